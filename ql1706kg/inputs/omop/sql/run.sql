-- ql1706kg: the statements run once per screening, before the batches of facts.sql: what the
-- database holds, the relevant concepts (pushed down from the ontology's terminology) and the
-- candidates. The same text runs on DuckDB and PostgreSQL; used by schema.py, relevance.py and
-- read.py. "@query NAME" starts a statement; @names are filled in as in facts.sql.

-- @query columns
-- Every column of every table of the CDM and vocabulary schemas (both engines keep the
-- standard information_schema; names are compared in lower case).
SELECT lower(table_schema), lower(table_name), lower(column_name)
FROM information_schema.columns
WHERE lower(table_schema) IN (@schemas)

-- @query cdm_version
SELECT cdm_version FROM @cdm.cdm_source

-- @query has_rows
-- Whether an optional table holds anything (an empty concept_ancestor is no hierarchy).
SELECT 1 FROM @table LIMIT 1

-- @query concepts_by_code
-- The concepts of the terminology's codes: (vocabulary_id, concept_code) pairs of the ontology.
SELECT c.concept_id, c.vocabulary_id, c.concept_code, c.concept_name, c.concept_class_id
FROM @vocab.concept c
JOIN (VALUES @codes) AS k(vocabulary_id, concept_code)
  ON k.vocabulary_id = c.vocabulary_id AND k.concept_code = c.concept_code

-- @query concepts_by_morphology
-- Concepts whose code starts with one of the morphologies (ICD-O-3 histology-topography pairs).
SELECT c.concept_id, c.vocabulary_id, c.concept_code, c.concept_name, c.concept_class_id
FROM @vocab.concept c
WHERE c.vocabulary_id IN (@vocabularies) AND substr(c.concept_code, 1, @width) IN (@prefixes)

-- @query concepts_by_class
-- Concepts of whole vocabulary classes (the Cancer Modifier metastases and TNM categories).
SELECT c.concept_id, c.vocabulary_id, c.concept_code, c.concept_name, c.concept_class_id
FROM @vocab.concept c
WHERE c.vocabulary_id IN (@vocabularies) AND c.concept_class_id IN (@classes)

-- @query descendants
-- Every standard concept below the given ones (SNOMED CT disorders under a histology, say).
SELECT DISTINCT c.concept_id, c.vocabulary_id, c.concept_code, c.concept_name,
       c.concept_class_id, ca.ancestor_concept_id
FROM @vocab.concept_ancestor ca
JOIN @vocab.concept c ON c.concept_id = ca.descendant_concept_id
WHERE ca.ancestor_concept_id IN (@concepts)

-- @query ingredients
-- RxNorm ingredients that may be the terminology's drugs: by code, by name, by an INN stem of
-- the ontology, or under an ATC group it names or keeps (with those ATC codes).
SELECT i.concept_id, i.vocabulary_id, i.concept_code, i.concept_name, i.concept_class_id,
       a.concept_code AS atc
FROM @vocab.concept i
LEFT JOIN @vocab.concept_ancestor ca ON ca.descendant_concept_id = i.concept_id
  AND ca.ancestor_concept_id IN (SELECT x.concept_id FROM @vocab.concept x
                                 WHERE x.vocabulary_id = @atc AND (@atc_patterns))
LEFT JOIN @vocab.concept a ON a.concept_id = ca.ancestor_concept_id
WHERE i.concept_class_id = @ingredient_class AND i.vocabulary_id IN (@drug_vocabularies)
  AND (i.concept_code IN (@drug_codes) OR lower(i.concept_name) IN (@drug_names)
       OR (@stem_patterns) OR a.concept_id IS NOT NULL)

-- @query drug_concepts
-- Without concept_ancestor: drug concepts whose names hold a drug name or a stem.
SELECT c.concept_id, c.vocabulary_id, c.concept_code, c.concept_name, c.concept_class_id
FROM @vocab.concept c
WHERE c.domain_id = 'Drug' AND (c.concept_code IN (@drug_codes) OR (@name_patterns))

-- @query concepts
-- The concepts a batch's facts name that the run has not seen yet.
SELECT c.concept_id, c.vocabulary_id, c.concept_code, c.concept_name, c.concept_class_id
FROM @vocab.concept c
WHERE c.concept_id IN (@concepts)

-- @query candidates_sarcoma
-- Everyone with a sarcoma on record: a condition (standard or source concept) or a disease
-- episode whose concept the terminology reads as a sarcoma.
SELECT DISTINCT CAST(co.person_id AS BIGINT) FROM @cdm.condition_occurrence co
WHERE co.condition_concept_id IN (@sarcoma) OR co.condition_source_concept_id IN (@sarcoma)

-- @query candidates_sarcoma_episodes
-- The same from disease episodes (oncology extension), joined to the above with UNION.
SELECT DISTINCT CAST(e.person_id AS BIGINT) FROM @cdm.episode e
WHERE e.episode_object_concept_id IN (@sarcoma)

-- @query candidates_cohort
-- An ATLAS cohort: its subjects, in the cohort table of the results schema.
SELECT DISTINCT CAST(@subject AS BIGINT) FROM @cohort_schema.@cohort_table
WHERE @definition = @cohort_id

-- @query persons
-- Which of the given ids are persons of the CDM. @persons is one text literal of ids split
-- here, as in facts.sql (an IN list of 1,000 literals cost DuckDB ~9 ms of binding a query:
-- checking 100,000 given ids took ~0.9 s before the first batch, now ~0.17 s).
SELECT CAST(p.person_id AS BIGINT) FROM @cdm.person p
WHERE p.person_id IN (SELECT unnest(CAST(@persons AS BIGINT[])))
