// The OWL API's OWL 2 DL profile checker (the one Protege and the ontology portals run) on RDF
// documents, for tests/test_owl_profile.py. Run with the source launcher (JDK 11+):
//   java -cp 'OWL API jars' OwlProfile.java FILE...
// For each file it prints one line "FILE<TAB>COUNT" and then, indented with a tab, one line per
// violation (its kind and the OWL API's text), at most 200 per file. The syntax is chosen by the
// suffix (.ttl Turtle, .nt N-Triples, .jsonld JSON-LD, .rdf/.xml/.owl RDF/XML); imports are never
// fetched (a document that imports is an error here, not a download).
import java.io.File;
import java.util.List;
import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.formats.NTriplesDocumentFormat;
import org.semanticweb.owlapi.formats.RDFXMLDocumentFormat;
import org.semanticweb.owlapi.formats.RDFJsonLDDocumentFormat;
import org.semanticweb.owlapi.formats.TurtleDocumentFormat;
import org.semanticweb.owlapi.io.FileDocumentSource;
import org.semanticweb.owlapi.model.MissingImportHandlingStrategy;
import org.semanticweb.owlapi.model.OWLDocumentFormat;
import org.semanticweb.owlapi.model.OWLOntology;
import org.semanticweb.owlapi.model.OWLOntologyLoaderConfiguration;
import org.semanticweb.owlapi.model.OWLOntologyManager;
import org.semanticweb.owlapi.profiles.OWL2DLProfile;
import org.semanticweb.owlapi.profiles.OWLProfileViolation;

public class OwlProfile {
    static final int SHOWN = 200;

    static OWLDocumentFormat format(String name) {
        if (name.endsWith(".ttl")) return new TurtleDocumentFormat();
        if (name.endsWith(".nt")) return new NTriplesDocumentFormat();
        if (name.endsWith(".jsonld")) return new RDFJsonLDDocumentFormat();
        return new RDFXMLDocumentFormat();
    }

    public static void main(String[] args) throws Exception {
        for (String name : args) {
            OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
            OWLOntologyLoaderConfiguration config = new OWLOntologyLoaderConfiguration()
                .setMissingImportHandlingStrategy(MissingImportHandlingStrategy.THROW_EXCEPTION);
            OWLOntology ontology = manager.loadOntologyFromOntologyDocument(
                new FileDocumentSource(new File(name), format(name)), config);
            List<OWLProfileViolation> violations =
                new OWL2DLProfile().checkOntology(ontology).getViolations();
            System.out.println(name + "\t" + violations.size());
            int shown = 0;
            for (OWLProfileViolation violation : violations) {
                if (shown++ == SHOWN) break;
                String text = violation.toString().replaceAll("\\s+", " ");
                System.out.println("\t" + violation.getClass().getSimpleName() + "\t" + text);
            }
        }
    }
}
