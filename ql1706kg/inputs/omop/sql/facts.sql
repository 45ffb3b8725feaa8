-- ql1706kg: the facts of one batch of persons, read from an OMOP CDM (v5.3 or v5.4, with the
-- oncology extension when present) in one pass. The same text runs on DuckDB and PostgreSQL.
--
-- How this file is used (ql1706kg/inputs/omop/schema.py):
-- * Each "@section NAME TABLE" below is one SELECT; the sections of the tables the database
--   holds are joined with UNION ALL ("requires T": only when table T is there, non-empty;
--   "unless T": only when it is not). The table of a section is required (a database
--   without it is refused, naming it) unless the section is "optional" (v5.4's episodes).
-- * "@alias a=table" says which table an alias stands for: every a.column below is checked
--   against the database before anything is read (a missing one is named); {a.column} is a
--   column of one CDM version only, read as NULL where it is absent (v5.3).
-- * @cdm and @vocab are the CDM and vocabulary schemas; @persons the batch's person ids;
--   the other @names are the relevant concepts and words, computed once per run from the
--   ontology's terminology (relevance.py): rows about anything else never leave the database.
--   Every value put in is an integer or a quoted literal; nothing is bound. The @..._words
--   are arrays of texts (connect.text_array: one literal split where it runs; ~1,300 literals
--   of IN lists cost DuckDB ~11 ms of binding a batch).
--
-- Every section gives the same 19 columns (what each holds for its table is said in it):
--   kind, person_id, row_id, concept_id, source_concept_id, source_value, start_date,
--   end_date, number, value_concept_id, text, unit_concept_id, unit_text, low, high,
--   operator_concept_id, link_id, link_field, extra_concept_id
-- Dates are ISO text, YYYY-MM-DD (a datetime's day, never its time zone; PostgreSQL sessions
-- are opened with DateStyle ISO; text is cheaper to carry to the workers than date objects);
-- numbers are DOUBLE PRECISION.
-- A row of concept 0 (unmapped) is read by its source value, when that is one of the codes or
-- names of the terminology (lower-cased; for a drug, its first word or an INN stem); so is a
-- row whose concept the vocabulary does not hold (OMOP's integrity rule forbids it; read by
-- its id alone, a metastasis or a pregnancy would vanish).

-- @section batch
-- The batch's person ids, bound once (an IN list in every section cost DuckDB 60 ms a section
-- for 2,000 persons, the CTE 0.5 s for the whole batch), as one array: DuckDB plans a VALUES
-- list again in every section that reads the CTE (~20 % of a 1,000-person statement's CPU).
-- @persons is one text literal split here (string_to_array('1|2', '|')): an ARRAY[1, 2] of
-- literals cost DuckDB's binder more per id the longer it was.
WITH batch(person_id) AS (SELECT unnest(CAST(@persons AS BIGINT[])))

-- @section person person
-- @alias p=person
-- number: year of birth; link_id, link_field: month and day of birth; text: person_source_value
SELECT 'person' AS kind, CAST(p.person_id AS BIGINT) AS person_id,
       CAST(p.person_id AS BIGINT) AS row_id, CAST(p.gender_concept_id AS BIGINT) AS concept_id,
       CAST(p.gender_source_concept_id AS BIGINT) AS source_concept_id,
       CAST(p.gender_source_value AS VARCHAR) AS source_value,
       CAST(CAST(p.birth_datetime AS DATE) AS VARCHAR) AS start_date, CAST(NULL AS VARCHAR) AS end_date,
       CAST(p.year_of_birth AS DOUBLE PRECISION) AS number,
       CAST(NULL AS BIGINT) AS value_concept_id, CAST(p.person_source_value AS VARCHAR) AS text,
       CAST(NULL AS BIGINT) AS unit_concept_id, CAST(NULL AS VARCHAR) AS unit_text,
       CAST(NULL AS DOUBLE PRECISION) AS low, CAST(NULL AS DOUBLE PRECISION) AS high,
       CAST(NULL AS BIGINT) AS operator_concept_id, CAST(p.month_of_birth AS BIGINT) AS link_id,
       CAST(p.day_of_birth AS BIGINT) AS link_field, CAST(NULL AS BIGINT) AS extra_concept_id
FROM @cdm.person p
WHERE p.person_id IN (SELECT person_id FROM batch)
  AND p.person_id BETWEEN @lowest_person AND @highest_person

-- @section death death
-- @alias d=death
SELECT 'death', CAST(d.person_id AS BIGINT), CAST(NULL AS BIGINT),
       CAST(d.cause_concept_id AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(CAST(d.death_date AS DATE) AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT),
       CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)
FROM @cdm.death d
WHERE d.person_id IN (SELECT person_id FROM batch)
  AND d.person_id BETWEEN @lowest_person AND @highest_person

-- @section observation_period observation_period
-- @alias op=observation_period
SELECT 'observation_period', CAST(op.person_id AS BIGINT),
       CAST(op.observation_period_id AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
       CAST(NULL AS VARCHAR), CAST(CAST(op.observation_period_start_date AS DATE) AS VARCHAR),
       CAST(CAST(op.observation_period_end_date AS DATE) AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT),
       CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT)
FROM @cdm.observation_period op
WHERE op.person_id IN (SELECT person_id FROM batch)
  AND op.person_id BETWEEN @lowest_person AND @highest_person

-- @section condition_occurrence condition_occurrence
-- @alias co=condition_occurrence c=concept
-- extra_concept_id: condition_status_concept_id; text: stop_reason
SELECT 'condition_occurrence', CAST(co.person_id AS BIGINT),
       CAST(co.condition_occurrence_id AS BIGINT), CAST(co.condition_concept_id AS BIGINT),
       CAST(co.condition_source_concept_id AS BIGINT),
       CAST(co.condition_source_value AS VARCHAR), CAST(CAST(co.condition_start_date AS DATE) AS VARCHAR),
       CAST(CAST(co.condition_end_date AS DATE) AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(co.stop_reason AS VARCHAR), CAST(NULL AS BIGINT),
       CAST(NULL AS VARCHAR), CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
       CAST(co.condition_status_concept_id AS BIGINT)
FROM @cdm.condition_occurrence co
WHERE co.person_id IN (SELECT person_id FROM batch)
  AND co.person_id BETWEEN @lowest_person AND @highest_person
  AND (co.condition_concept_id IN (@condition_occurrence_concepts)
       OR co.condition_source_concept_id IN (@condition_occurrence_concepts)
       OR ((lower(co.condition_source_value)
              IN (SELECT unnest(@condition_occurrence_words))
            OR lower(split_part(co.condition_source_value, '-', 1))
              IN (SELECT unnest(@condition_occurrence_words))
            OR lower(split_part(co.condition_source_value, '.', 1))
              IN (SELECT unnest(@condition_occurrence_words)))
           AND (co.condition_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = co.condition_concept_id)))
       OR EXISTS (SELECT 1 FROM @vocab.concept c
                  WHERE c.concept_id = co.condition_concept_id
                    AND c.vocabulary_id IN (@condition_occurrence_vocabularies)))

-- @section measurement measurement
-- @alias m=measurement c=concept
-- end_date: measurement_datetime (its time orders one day's results);
-- number: value_as_number; text: value_source_value; low, high: range_low, range_high (the
-- lower and upper limits of normal, in the value's unit); link_id, link_field:
-- measurement_event_id and meas_event_field_concept_id (v5.4: what the measurement is about)
SELECT 'measurement', CAST(m.person_id AS BIGINT), CAST(m.measurement_id AS BIGINT),
       CAST(m.measurement_concept_id AS BIGINT), CAST(m.measurement_source_concept_id AS BIGINT),
       CAST(m.measurement_source_value AS VARCHAR), CAST(CAST(m.measurement_date AS DATE) AS VARCHAR),
       CAST(m.measurement_datetime AS VARCHAR), CAST(m.value_as_number AS DOUBLE PRECISION),
       CAST(m.value_as_concept_id AS BIGINT), CAST(m.value_source_value AS VARCHAR),
       CAST(m.unit_concept_id AS BIGINT), CAST(m.unit_source_value AS VARCHAR),
       CAST(m.range_low AS DOUBLE PRECISION), CAST(m.range_high AS DOUBLE PRECISION),
       CAST(m.operator_concept_id AS BIGINT), CAST({m.measurement_event_id} AS BIGINT),
       CAST({m.meas_event_field_concept_id} AS BIGINT), CAST(NULL AS BIGINT)
FROM @cdm.measurement m
WHERE m.person_id IN (SELECT person_id FROM batch)
  AND m.person_id BETWEEN @lowest_person AND @highest_person
  AND (m.measurement_concept_id IN (@measurement_concepts)
       OR m.measurement_source_concept_id IN (@measurement_concepts)
       OR (lower(m.measurement_source_value) IN (SELECT unnest(@measurement_words))
           AND (m.measurement_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = m.measurement_concept_id)))
       OR EXISTS (SELECT 1 FROM @vocab.concept c
                  WHERE c.concept_id = m.measurement_concept_id
                    AND c.vocabulary_id IN (@measurement_vocabularies)))

-- @section observation observation
-- @alias o=observation c=concept
-- number: value_as_number; text: value_as_string (v5.4: else value_source_value);
-- extra_concept_id and operator_concept_id: qualifier_concept_id (v5.4's observation has no
-- operator; a qualifier that is one of OMOP's operator concepts is read as the value's bound,
-- any other qualifier is no bound); link_*: observation_event_id, obs_event_field_concept_id
SELECT 'observation', CAST(o.person_id AS BIGINT), CAST(o.observation_id AS BIGINT),
       CAST(o.observation_concept_id AS BIGINT), CAST(o.observation_source_concept_id AS BIGINT),
       CAST(o.observation_source_value AS VARCHAR), CAST(CAST(o.observation_date AS DATE) AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(o.value_as_number AS DOUBLE PRECISION),
       CAST(o.value_as_concept_id AS BIGINT),
       CAST(COALESCE(o.value_as_string, {o.value_source_value}) AS VARCHAR),
       CAST(o.unit_concept_id AS BIGINT), CAST(o.unit_source_value AS VARCHAR),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS DOUBLE PRECISION),
       CAST(o.qualifier_concept_id AS BIGINT), CAST({o.observation_event_id} AS BIGINT),
       CAST({o.obs_event_field_concept_id} AS BIGINT), CAST(o.qualifier_concept_id AS BIGINT)
FROM @cdm.observation o
WHERE o.person_id IN (SELECT person_id FROM batch)
  AND o.person_id BETWEEN @lowest_person AND @highest_person
  AND (o.observation_concept_id IN (@observation_concepts)
       OR o.observation_source_concept_id IN (@observation_concepts)
       OR (lower(o.observation_source_value) IN (SELECT unnest(@observation_words))
           AND (o.observation_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = o.observation_concept_id)))
       OR EXISTS (SELECT 1 FROM @vocab.concept c
                  WHERE c.concept_id = o.observation_concept_id
                    AND c.vocabulary_id IN (@observation_vocabularies)))

-- @section drug_exposure drug_exposure requires concept_ancestor
-- @alias de=drug_exposure ca=concept_ancestor
-- Rolled up to the RxNorm ingredients of the terminology's drugs and classes (concept_ancestor
-- holds each standard concept as its own ancestor too): one row per ingredient, concept_id the
-- ingredient, source_concept_id the drug as exposed. number: quantity; text: stop_reason.
SELECT 'drug_exposure', CAST(de.person_id AS BIGINT), CAST(de.drug_exposure_id AS BIGINT),
       CAST(ca.ancestor_concept_id AS BIGINT), CAST(de.drug_concept_id AS BIGINT),
       CAST(de.drug_source_value AS VARCHAR), CAST(CAST(de.drug_exposure_start_date AS DATE) AS VARCHAR),
       CAST(CAST(de.drug_exposure_end_date AS DATE) AS VARCHAR), CAST(de.quantity AS DOUBLE PRECISION),
       CAST(de.drug_source_concept_id AS BIGINT), CAST(de.stop_reason AS VARCHAR),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
       CAST(NULL AS BIGINT), CAST(de.drug_type_concept_id AS BIGINT)
FROM @cdm.drug_exposure de
JOIN @vocab.concept_ancestor ca
  ON ca.descendant_concept_id = de.drug_concept_id AND ca.ancestor_concept_id IN (@ingredients)
WHERE de.person_id IN (SELECT person_id FROM batch)
  AND de.person_id BETWEEN @lowest_person AND @highest_person

-- @section drug_exposure_outside drug_exposure requires concept_ancestor
-- @alias de=drug_exposure c=concept ca=concept_ancestor
-- A drug concept concept_ancestor cannot roll up: OMOP's hierarchy holds valid standard
-- concepts only, so a non-standard or invalid one (standard_concept not 'S', invalid_reason
-- 'D' or 'U') or one the vocabulary lacks would otherwise never leave the database, and an
-- exposure to an anticancer drug would be read as none. Read as without a hierarchy: the
-- concept's name, else the source value (concept_id 0, source_concept_id the drug as written),
-- by the drug reader where the person is assembled: every such row leaves the database (a
-- conformant CDM has none; a name filter here, hundreds of LIKEs a row, cost DuckDB 8x the
-- whole statement's CPU).
SELECT 'drug_exposure', CAST(de.person_id AS BIGINT), CAST(de.drug_exposure_id AS BIGINT),
       CAST(0 AS BIGINT), CAST(de.drug_concept_id AS BIGINT),
       CAST(COALESCE(c.concept_name, de.drug_source_value) AS VARCHAR),
       CAST(CAST(de.drug_exposure_start_date AS DATE) AS VARCHAR),
       CAST(CAST(de.drug_exposure_end_date AS DATE) AS VARCHAR), CAST(de.quantity AS DOUBLE PRECISION),
       CAST(de.drug_source_concept_id AS BIGINT), CAST(de.stop_reason AS VARCHAR),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
       CAST(NULL AS BIGINT), CAST(de.drug_type_concept_id AS BIGINT)
FROM @cdm.drug_exposure de
LEFT JOIN @vocab.concept c ON c.concept_id = de.drug_concept_id
WHERE de.person_id IN (SELECT person_id FROM batch)
  AND de.person_id BETWEEN @lowest_person AND @highest_person AND de.drug_concept_id <> 0
  AND (c.concept_id IS NULL OR c.standard_concept IS NULL OR c.standard_concept <> 'S'
       OR c.invalid_reason IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM @vocab.concept_ancestor ca
                  WHERE ca.descendant_concept_id = de.drug_concept_id
                    AND ca.ancestor_concept_id IN (@ingredients))

-- @section drug_exposure_named drug_exposure unless concept_ancestor
-- @alias de=drug_exposure
-- Without concept_ancestor (a vocabulary subset): the drug concepts whose names hold a drug or
-- a stem of the terminology (relevance.py); concept_id is the drug as exposed.
SELECT 'drug_exposure', CAST(de.person_id AS BIGINT), CAST(de.drug_exposure_id AS BIGINT),
       CAST(de.drug_concept_id AS BIGINT), CAST(de.drug_concept_id AS BIGINT),
       CAST(de.drug_source_value AS VARCHAR), CAST(CAST(de.drug_exposure_start_date AS DATE) AS VARCHAR),
       CAST(CAST(de.drug_exposure_end_date AS DATE) AS VARCHAR), CAST(de.quantity AS DOUBLE PRECISION),
       CAST(de.drug_source_concept_id AS BIGINT), CAST(de.stop_reason AS VARCHAR),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
       CAST(NULL AS BIGINT), CAST(de.drug_type_concept_id AS BIGINT)
FROM @cdm.drug_exposure de
WHERE de.person_id IN (SELECT person_id FROM batch)
  AND de.person_id BETWEEN @lowest_person AND @highest_person AND de.drug_concept_id IN (@drug_concepts)

-- @section drug_exposure_unmapped drug_exposure
-- @alias de=drug_exposure
-- Unmapped exposures (drug_concept_id 0), every one: the source value is read as a drug name
-- (wherever the name stands in it); one the terminology cannot name may be any drug, so it is
-- kept as a drug of unknown class, as a record's unknown drug name is; concept_id 0.
SELECT 'drug_exposure', CAST(de.person_id AS BIGINT), CAST(de.drug_exposure_id AS BIGINT),
       CAST(0 AS BIGINT), CAST(0 AS BIGINT),
       CAST(de.drug_source_value AS VARCHAR), CAST(CAST(de.drug_exposure_start_date AS DATE) AS VARCHAR),
       CAST(CAST(de.drug_exposure_end_date AS DATE) AS VARCHAR), CAST(de.quantity AS DOUBLE PRECISION),
       CAST(de.drug_source_concept_id AS BIGINT), CAST(de.stop_reason AS VARCHAR),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS DOUBLE PRECISION),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
       CAST(NULL AS BIGINT), CAST(de.drug_type_concept_id AS BIGINT)
FROM @cdm.drug_exposure de
WHERE de.person_id IN (SELECT person_id FROM batch)
  AND de.person_id BETWEEN @lowest_person AND @highest_person AND de.drug_concept_id = 0

-- @section procedure_occurrence procedure_occurrence
-- @alias po=procedure_occurrence
-- number: quantity; end_date: procedure_end_date (v5.4)
SELECT 'procedure_occurrence', CAST(po.person_id AS BIGINT),
       CAST(po.procedure_occurrence_id AS BIGINT), CAST(po.procedure_concept_id AS BIGINT),
       CAST(po.procedure_source_concept_id AS BIGINT),
       CAST(po.procedure_source_value AS VARCHAR), CAST(CAST(po.procedure_date AS DATE) AS VARCHAR),
       CAST(CAST({po.procedure_end_date} AS DATE) AS VARCHAR), CAST(po.quantity AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT),
       CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(po.modifier_concept_id AS BIGINT)
FROM @cdm.procedure_occurrence po
WHERE po.person_id IN (SELECT person_id FROM batch)
  AND po.person_id BETWEEN @lowest_person AND @highest_person
  AND (po.procedure_concept_id IN (@procedure_occurrence_concepts)
       OR po.procedure_source_concept_id IN (@procedure_occurrence_concepts)
       OR (lower(po.procedure_source_value) IN (SELECT unnest(@procedure_occurrence_words))
           AND (po.procedure_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = po.procedure_concept_id))))

-- @section specimen specimen
-- @alias s=specimen
-- extra_concept_id: disease_status_concept_id; value_concept_id: anatomic_site_concept_id
SELECT 'specimen', CAST(s.person_id AS BIGINT), CAST(s.specimen_id AS BIGINT),
       CAST(s.specimen_concept_id AS BIGINT), CAST(NULL AS BIGINT),
       CAST(s.specimen_source_value AS VARCHAR), CAST(CAST(s.specimen_date AS DATE) AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(s.quantity AS DOUBLE PRECISION),
       CAST(s.anatomic_site_concept_id AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(s.unit_concept_id AS BIGINT), CAST(s.unit_source_value AS VARCHAR),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT),
       CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(s.disease_status_concept_id AS BIGINT)
FROM @cdm.specimen s
WHERE s.person_id IN (SELECT person_id FROM batch)
  AND s.person_id BETWEEN @lowest_person AND @highest_person
  AND (s.specimen_concept_id IN (@specimen_concepts)
       OR (lower(s.specimen_source_value) IN (SELECT unnest(@specimen_words))
           AND (s.specimen_concept_id = 0 OR NOT EXISTS (SELECT 1 FROM @vocab.concept k
                                            WHERE k.concept_id = s.specimen_concept_id))))

-- @section episode episode optional
-- @alias e=episode
-- Oncology extension. concept_id: episode_object_concept_id (the cancer of a disease episode,
-- the regimen of a treatment episode); extra_concept_id: episode_concept_id (which kind);
-- link_id: episode_parent_id
SELECT 'episode', CAST(e.person_id AS BIGINT), CAST(e.episode_id AS BIGINT),
       CAST(e.episode_object_concept_id AS BIGINT), CAST(e.episode_source_concept_id AS BIGINT),
       CAST(e.episode_source_value AS VARCHAR), CAST(CAST(e.episode_start_date AS DATE) AS VARCHAR),
       CAST(CAST(e.episode_end_date AS DATE) AS VARCHAR), CAST(e.episode_number AS DOUBLE PRECISION),
       CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT),
       CAST(e.episode_parent_id AS BIGINT), CAST(NULL AS BIGINT),
       CAST(e.episode_concept_id AS BIGINT)
FROM @cdm.episode e
WHERE e.person_id IN (SELECT person_id FROM batch)
  AND e.person_id BETWEEN @lowest_person AND @highest_person AND e.episode_concept_id IN (@episode_kinds)

-- @section episode_event episode_event optional requires episode
-- @alias ee=episode_event e=episode
-- Which events an episode groups. row_id: the event's id in its table; link_id: the episode;
-- link_field: episode_event_field_concept_id (which table the event is in)
SELECT 'episode_event', CAST(e.person_id AS BIGINT), CAST(ee.event_id AS BIGINT),
       CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
       CAST(NULL AS VARCHAR), CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT),
       CAST(NULL AS VARCHAR), CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR),
       CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS DOUBLE PRECISION), CAST(NULL AS BIGINT),
       CAST(ee.episode_id AS BIGINT), CAST(ee.episode_event_field_concept_id AS BIGINT),
       CAST(NULL AS BIGINT)
FROM @cdm.episode_event ee
JOIN @cdm.episode e ON e.episode_id = ee.episode_id
WHERE e.person_id IN (SELECT person_id FROM batch)
  AND e.person_id BETWEEN @lowest_person AND @highest_person AND e.episode_concept_id IN (@episode_kinds)
  AND ee.episode_event_field_concept_id IN (@event_fields)
