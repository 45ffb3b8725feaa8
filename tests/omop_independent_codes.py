"""The independent converter's own code tables (tests/omop_independent.py): the codes a site's
ETL would keep in its mapping tables. Concept ids are OMOP's where they were checked (the
vendored Synthea27Nj vocabulary, the fixed ids of docs/omop.md); None: a site-local id."""

from __future__ import annotations

# Type concepts (OMOP 'Type Concept'): EHR, claim, lab, registry, EHR episode
EHR, CLAIM, LAB, REGISTRY, EHR_EPISODE = 32817, 32810, 32856, 32879, 32544
OPERATORS = {"<": 4171756, "<=": 4171754, ">": 4172704, ">=": 4171755}
GENDER = {"male": 8507, "female": 8532}

# name -> (ICD-O-3 morphology, SNOMED CT disorder or None, ICD-10-CM of a typical site)
HISTOLOGY = {
    "leiomyosarcoma": ("8890/3", "443719001", "C49.9"),
    "myxofibrosarcoma": ("8811/3", None, "C49.2"),
    "alveolar soft part sarcoma": ("9581/3", "404056007", "C49.2"),
    "dedifferentiated liposarcoma": ("8858/3", "404072004", "C48.0"),
    "undifferentiated spindle cell sarcoma": ("8801/3", None, "C49.9"),
    "synovial sarcoma": ("9040/3", "63211008", "C49.2"),
    "undifferentiated sarcoma": ("8805/3", None, "C49.9"),
    "undifferentiated pleomorphic sarcoma": ("8802/3", "443439001", "C49.2"),
    "angiosarcoma": ("9120/3", "403977003", "C49.0"),
    "chordoma": ("9370/3", "1156453008", "C41.4"),
}
# site -> (SNOMED CT metastatic malignant neoplasm to ..., ICD-10-CM, Cancer Modifier name)
METASTASIS = {
    "lung": ("94391008", "C78.00", "Metastasis to lung"),
    "liver": ("94381002", "C78.7", "Metastasis to liver"),
    "bone": ("94222008", "C79.51", "Metastasis to bone"),
    "brain": ("94225005", "C79.31", "Metastasis to brain"),
    "lymph node": ("94392001", "C77.9", "Metastasis to lymph node"),
    "peritoneum": (None, "C78.6", "Metastasis to peritoneum"),
}
# ingredient -> (RxNorm ingredient, clinical drug name, brand or None, parenteral?)
DRUGS = {
    "doxorubicin": ("3639", "doxorubicin hydrochloride 2 MG/ML Injectable Solution",
                    "Adriamycin", True),
    "ifosfamide": ("5657", "ifosfamide 50 MG/ML Injectable Solution", "Ifex", True),
    "epirubicin": ("3995", "epirubicin hydrochloride 2 MG/ML Injectable Solution", "Ellence", True),
    "dacarbazine": ("3098", "dacarbazine 200 MG Injection", None, True),
    "gemcitabine": ("12574", "gemcitabine 38 MG/ML Injectable Solution", "Gemzar", True),
    "docetaxel": ("72962", "docetaxel 20 MG/ML Injectable Solution", "Taxotere", True),
    "paclitaxel": ("56946", "paclitaxel 6 MG/ML Injectable Solution", None, True),
    "eribulin": ("1045453", "eribulin mesylate 0.5 MG/ML Injectable Solution", "Halaven", True),
    "trabectedin": ("1673265", "trabectedin 1 MG Injection", "Yondelis", True),
    "pazopanib": ("714438", "pazopanib 200 MG Oral Tablet", "Votrient", False),
    "axitinib": ("1242999", "axitinib 5 MG Oral Tablet", "Inlyta", False),
    "toripalimab": ("2669406", "toripalimab-tpzi 10 MG/ML Injectable Solution", "Loqtorzi", True),
    "pembrolizumab": ("1547545", "pembrolizumab 25 MG/ML Injectable Solution", "Keytruda", True),
    "filgrastim": ("68442", "filgrastim 0.3 MG/ML Injectable Solution", "Neupogen", True),
    "romiplostim": ("727598", "romiplostim 250 MCG Injection", "Nplate", True),
    "epoetin alfa": ("105694", "epoetin alfa 10000 UNT/ML Injectable Solution", "Epogen", True),
}
# test -> (LOINC, OMOP concept id or None (local), unit variants: (UCUM, factor))
TESTS = {
    "ANC": ("751-8", 3013650, [("10*9/L", 1), ("10*3/uL", 1), ("/mm3", 1000)]),
    "platelets": ("777-3", 3024929, [("10*9/L", 1), ("10*3/uL", 1), ("10*3/mm3", 1)]),
    "haemoglobin": ("718-7", 3000963, [("g/L", 1), ("g/dL", 0.1)]),
    "AST": ("1920-8", 3013721, [("U/L", 1), ("ukat/L", 1 / 60)]),
    "ALT": ("1742-6", 3006923, [("U/L", 1), ("ukat/L", 1 / 60)]),
    "total bilirubin": ("1975-2", 3024128, [("umol/L", 1), ("mg/dL", 1 / 17.1)]),
    "albumin": ("1751-7", 3024561, [("g/L", 1), ("g/dL", 0.1)]),
    "creatinine": ("2160-0", 3016723, [("umol/L", 1), ("mg/dL", 1 / 88.42)]),
    "APTT": ("14979-9", None, [("s", 1)]),
    "INR": ("6301-6", 3022217, [("{INR}", 1)]),
    "PT": ("5902-2", 3034426, [("s", 1)]),
    "LVEF": ("10230-1", 3027172, [("%", 1)]),
    "weight": ("29463-7", 3025315, [("kg", 1), ("g", 1000)]),
    "24-hour urine protein": ("2889-4", None, [("g/(24.h)", 1), ("mg/(24.h)", 1000)]),
    "urine protein dipstick": ("5804-0", 3005897, []),
    "pregnancy test": ("2106-3", None, []),
    "ECOG": ("89247-1", None, []),
}
# Units to canonical (the record's own spellings) -> UCUM and factor to the first variant
UNIT_ALIASES = {"g/d": "g/(24.h)", "/uL": "/mm3", "umol/l": "umol/L"}
# How a laboratory feed spells a unit the ETL left unmapped (unit_concept_id 0)
SPELLINGS = {"10*9/L": "x10^9/L", "10*3/uL": "K/uL", "umol/L": "µmol/L", "U/L": "IU/L",
             "g/dL": "g/dl", "mg/dL": "mg/dl", "/mm3": "cells/mm3", "ukat/L": "µkat/L",
             "10*3/mm3": "thou/mm3", "g/L": "g/l", "{INR}": "ratio", "%": "%", "s": "sec",
             "kg": "kg", "g/(24.h)": "g/24h", "mg/(24.h)": "mg/24h", "g": "g"}
UCUM_UNITS = {"10*9/L": 9444, "10*3/uL": 8848, "/mm3": 8785, "10*3/mm3": 8961, "g/L": 8636,
              "g/dL": 8713, "U/L": None, "ukat/L": 32995, "umol/L": 8749, "mg/dL": 8840,
              "s": 8555, "{INR}": None, "%": 8554, "kg": 9529, "g": None, "g/(24.h)": 8807,
              "mg/(24.h)": 8909}
# Qualitative answers: value concepts (SNOMED CT 'Meas Value' and LOINC answers)
ANSWERS = {
    "negative": ("SNOMED", "260385009", "Negative", 9189),
    "positive": ("SNOMED", "10828004", "Positive", 9191),
    "trace": ("SNOMED", "167274008", "Urine protein test = trace", None),
    "1+": ("SNOMED", "167275009", "Urine protein test = +", None),
    "2+": ("SNOMED", "167276005", "Urine protein test = ++", None),
    "3+": ("SNOMED", "167277001", "Urine protein test = +++", None),
    "4+": ("SNOMED", "167278006", "Urine protein test = ++++", None),
}
ECOG_ANSWERS = ["LA9622-7", "LA9623-5", "LA9624-3", "LA9625-0", "LA9626-8", "LA9627-6"]
TRANSFUSION = {"red blood cell transfusion": ("116863004", "30233N1"),
               "platelet transfusion": ("180208003", "30233R1")}
