-- ql1706kg: the rows of one batch of persons that are facts of the kinds the protocol declares
-- (ql:FactKind, protocol/fact_kinds.py: an HBsAg result, a vaccination, an autoimmune
-- disease ...), read from an OMOP CDM in one pass; run beside facts.sql, and only when the
-- protocol declares a kind whose codes the vocabulary holds (declared.py). The same text runs
-- on DuckDB and PostgreSQL; it is used as facts.sql is (schema.py: "@section NAME TABLE",
-- "@alias", {a.column} for a column of one CDM version only). Every table is optional here: a
-- database without device_exposure simply has no such facts.
--
-- @concepts are the concepts of the codes (and those below them) of the declared kinds a
-- section's table may hold (mapping.toml's [declared.tables]), @words those codes, lower-cased,
-- as an array of texts (connect.text_array)
-- (an unmapped row, concept 0, is read by its source value when that is one of them, and so is
-- a row whose concept the vocabulary does not hold: OMOP's integrity rule says it cannot be,
-- and read by its id alone a fact of the kind would vanish); only the
-- sections of tables some kind may be in are run. Every value put in is an integer or a
-- quoted literal; nothing is bound.
--
-- Every section gives the same 15 columns:
--   kind, person_id, row_id, concept_id, source_concept_id, source_value, start_date,
--   end_date, number, value_concept_id, text, unit_concept_id, unit_text, status_text,
--   operator_concept_id (measurement's; an observation's qualifier_concept_id, read as a
--   bound only when it is one of OMOP's operator concepts: a '<' is never an exact value)
-- Dates are ISO text (YYYY-MM-DD); numbers DOUBLE PRECISION.

-- The batch CTE is facts.sql's (one binding of @persons for both statements).

-- @section measurement measurement optional
-- @alias m=measurement
SELECT 'measurement' AS kind, CAST(m.person_id AS BIGINT) AS person_id,
       CAST(m.measurement_id AS BIGINT) AS row_id,
       CAST(m.measurement_concept_id AS BIGINT) AS concept_id,
       CAST(m.measurement_source_concept_id AS BIGINT) AS source_concept_id,
       CAST(m.measurement_source_value AS VARCHAR) AS source_value,
       CAST(CAST(m.measurement_date AS DATE) AS VARCHAR) AS start_date,
       CAST(NULL AS VARCHAR) AS end_date, CAST(m.value_as_number AS DOUBLE PRECISION) AS number,
       CAST(m.value_as_concept_id AS BIGINT) AS value_concept_id,
       CAST(m.value_source_value AS VARCHAR) AS text,
       CAST(m.unit_concept_id AS BIGINT) AS unit_concept_id,
       CAST(m.unit_source_value AS VARCHAR) AS unit_text, CAST(NULL AS VARCHAR) AS status_text,
       CAST(m.operator_concept_id AS BIGINT) AS operator_concept_id
FROM @cdm.measurement m
WHERE m.person_id IN (SELECT person_id FROM batch)
  AND m.person_id BETWEEN @lowest_person AND @highest_person
  AND (m.measurement_concept_id IN (@concepts)
       OR m.measurement_source_concept_id IN (@concepts)
       OR (lower(m.measurement_source_value) IN (SELECT unnest(@words))
           AND (m.measurement_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = m.measurement_concept_id))))

-- @section observation observation optional
-- @alias o=observation
-- text: value_as_string, else (v5.4) value_source_value
SELECT 'observation', CAST(o.person_id AS BIGINT), CAST(o.observation_id AS BIGINT),
       CAST(o.observation_concept_id AS BIGINT), CAST(o.observation_source_concept_id AS BIGINT),
       CAST(o.observation_source_value AS VARCHAR),
       CAST(CAST(o.observation_date AS DATE) AS VARCHAR), CAST(NULL AS VARCHAR),
       CAST(o.value_as_number AS DOUBLE PRECISION), CAST(o.value_as_concept_id AS BIGINT),
       CAST(COALESCE(o.value_as_string, {o.value_source_value}) AS VARCHAR),
       CAST(o.unit_concept_id AS BIGINT), CAST(o.unit_source_value AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(o.qualifier_concept_id AS BIGINT)
FROM @cdm.observation o
WHERE o.person_id IN (SELECT person_id FROM batch)
  AND o.person_id BETWEEN @lowest_person AND @highest_person
  AND (o.observation_concept_id IN (@concepts)
       OR o.observation_source_concept_id IN (@concepts)
       OR (lower(o.observation_source_value) IN (SELECT unnest(@words))
           AND (o.observation_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = o.observation_concept_id))))

-- @section condition_occurrence condition_occurrence optional
-- @alias co=condition_occurrence
-- status_text: stop_reason
SELECT 'condition_occurrence', CAST(co.person_id AS BIGINT),
       CAST(co.condition_occurrence_id AS BIGINT), CAST(co.condition_concept_id AS BIGINT),
       CAST(co.condition_source_concept_id AS BIGINT), CAST(co.condition_source_value AS VARCHAR),
       CAST(CAST(co.condition_start_date AS DATE) AS VARCHAR),
       CAST(CAST(co.condition_end_date AS DATE) AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(co.stop_reason AS VARCHAR), CAST(NULL AS BIGINT)
FROM @cdm.condition_occurrence co
WHERE co.person_id IN (SELECT person_id FROM batch)
  AND co.person_id BETWEEN @lowest_person AND @highest_person
  AND (co.condition_concept_id IN (@concepts)
       OR co.condition_source_concept_id IN (@concepts)
       OR (lower(co.condition_source_value) IN (SELECT unnest(@words))
           AND (co.condition_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = co.condition_concept_id))))

-- @section procedure_occurrence procedure_occurrence optional
-- @alias po=procedure_occurrence
SELECT 'procedure_occurrence', CAST(po.person_id AS BIGINT),
       CAST(po.procedure_occurrence_id AS BIGINT), CAST(po.procedure_concept_id AS BIGINT),
       CAST(po.procedure_source_concept_id AS BIGINT), CAST(po.procedure_source_value AS VARCHAR),
       CAST(CAST(po.procedure_date AS DATE) AS VARCHAR),
       CAST(CAST({po.procedure_end_date} AS DATE) AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT)
FROM @cdm.procedure_occurrence po
WHERE po.person_id IN (SELECT person_id FROM batch)
  AND po.person_id BETWEEN @lowest_person AND @highest_person
  AND (po.procedure_concept_id IN (@concepts)
       OR po.procedure_source_concept_id IN (@concepts)
       OR (lower(po.procedure_source_value) IN (SELECT unnest(@words))
           AND (po.procedure_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = po.procedure_concept_id))))

-- @section drug_exposure drug_exposure optional
-- @alias de=drug_exposure
-- status_text: stop_reason
SELECT 'drug_exposure', CAST(de.person_id AS BIGINT), CAST(de.drug_exposure_id AS BIGINT),
       CAST(de.drug_concept_id AS BIGINT), CAST(de.drug_source_concept_id AS BIGINT),
       CAST(de.drug_source_value AS VARCHAR),
       CAST(CAST(de.drug_exposure_start_date AS DATE) AS VARCHAR),
       CAST(CAST(de.drug_exposure_end_date AS DATE) AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(de.stop_reason AS VARCHAR), CAST(NULL AS BIGINT)
FROM @cdm.drug_exposure de
WHERE de.person_id IN (SELECT person_id FROM batch)
  AND de.person_id BETWEEN @lowest_person AND @highest_person
  AND (de.drug_concept_id IN (@concepts)
       OR de.drug_source_concept_id IN (@concepts)
       OR (lower(de.drug_source_value) IN (SELECT unnest(@words))
           AND (de.drug_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = de.drug_concept_id))))

-- @section device_exposure device_exposure optional
-- @alias dv=device_exposure
SELECT 'device_exposure', CAST(dv.person_id AS BIGINT), CAST(dv.device_exposure_id AS BIGINT),
       CAST(dv.device_concept_id AS BIGINT), CAST(dv.device_source_concept_id AS BIGINT),
       CAST(dv.device_source_value AS VARCHAR),
       CAST(CAST(dv.device_exposure_start_date AS DATE) AS VARCHAR),
       CAST(CAST(dv.device_exposure_end_date AS DATE) AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT)
FROM @cdm.device_exposure dv
WHERE dv.person_id IN (SELECT person_id FROM batch)
  AND dv.person_id BETWEEN @lowest_person AND @highest_person
  AND (dv.device_concept_id IN (@concepts)
       OR dv.device_source_concept_id IN (@concepts)
       OR (lower(dv.device_source_value) IN (SELECT unnest(@words))
           AND (dv.device_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = dv.device_concept_id))))

-- @section specimen specimen optional
-- @alias s=specimen
-- number, unit: quantity and its unit
SELECT 'specimen', CAST(s.person_id AS BIGINT), CAST(s.specimen_id AS BIGINT),
       CAST(s.specimen_concept_id AS BIGINT), CAST(NULL AS BIGINT),
       CAST(s.specimen_source_value AS VARCHAR), CAST(CAST(s.specimen_date AS DATE) AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(s.quantity AS DOUBLE PRECISION), CAST(NULL AS BIGINT),
       CAST(NULL AS VARCHAR), CAST(s.unit_concept_id AS BIGINT),
       CAST(s.unit_source_value AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT)
FROM @cdm.specimen s
WHERE s.person_id IN (SELECT person_id FROM batch)
  AND s.person_id BETWEEN @lowest_person AND @highest_person
  AND (s.specimen_concept_id IN (@concepts)
       OR (lower(s.specimen_source_value) IN (SELECT unnest(@words))
           AND (s.specimen_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = s.specimen_concept_id))))

-- @section observation_value observation optional
-- @alias o=observation
-- A kind whose concept is an observation's value, not the observation itself: OMOP keeps an
-- allergy as an observation ("allergy to drug", "allergy to substance") whose
-- value_as_concept_id is the substance (concept_id here is that value, source_concept_id the
-- observation's concept)
SELECT 'observation_value', CAST(o.person_id AS BIGINT), CAST(o.observation_id AS BIGINT),
       CAST(o.value_as_concept_id AS BIGINT), CAST(o.observation_concept_id AS BIGINT),
       CAST(o.observation_source_value AS VARCHAR),
       CAST(CAST(o.observation_date AS DATE) AS VARCHAR), CAST(NULL AS VARCHAR),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT),
       CAST(COALESCE(o.value_as_string, {o.value_source_value}) AS VARCHAR),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT)
FROM @cdm.observation o
WHERE o.person_id IN (SELECT person_id FROM batch)
  AND o.person_id BETWEEN @lowest_person AND @highest_person
  AND o.value_as_concept_id IN (@concepts)
