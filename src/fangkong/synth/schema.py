"""The file layout of a synthetic dataset (``fangkong synth --out DIR``): one schema per file.

The tracing engine and outside checks read these files, so the schemas are a contract: a change
here is a change of format. Timestamps are UTC; ids are int64 and unique within their file.

    DIR/
      manifest.json                  scenario, seed, sizes, dates, file hashes (written last)
      jurisdictions.parquet          JURISDICTIONS
      households.parquet             HOUSEHOLDS
      dwellings.parquet              DWELLINGS (compound / building / unit / door of each household)
      persons.parquet                PERSONS
      places.parquet                 PLACES
      facilities.parquet             FACILITIES
      presence/day=YYYY-MM-DD/*.parquet   PRESENCE
      infections.parquet             INFECTIONS (the ground truth)
      geo/districts.geojson, geo/communities.geojson
"""

from __future__ import annotations

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")

LEVELS = ("province", "city", "district", "street", "community")
PLACE_CATEGORIES = (
    "market", "supermarket", "restaurant", "school", "kindergarten", "hospital", "pharmacy",
    "workplace", "bus", "gathering", "other",
)
FACILITY_KINDS = ("lab", "sampling_site", "isolation_site", "hospital", "warehouse")
SEVERITIES = ("asymptomatic", "mild", "moderate", "severe", "critical")

JURISDICTIONS = pa.schema([
    ("code", pa.string()),
    ("name", pa.string()),
    ("level", pa.string()),  # one of LEVELS
    ("parent_code", pa.string()),  # null for the province
    ("population", pa.int64()),
])

HOUSEHOLDS = pa.schema([
    ("household_id", pa.int64()),
    ("community_code", pa.string()),
    ("address", pa.string()),
    ("lon", pa.float64()),
    ("lat", pa.float64()),
])

DWELLINGS = pa.schema([
    ("household_id", pa.int64()),
    ("compound_id", pa.int64()),
    ("compound_name", pa.string()),
    ("building", pa.string()),
    ("unit", pa.string()),
    ("door", pa.string()),
])

PERSONS = pa.schema([
    ("person_id", pa.int64()),
    ("household_id", pa.int64()),
    ("id_number", pa.string()),
    ("name", pa.string()),
    ("sex", pa.string()),  # "M" or "F"
    ("birth_date", pa.date32()),
    ("phone", pa.string()),  # null for some of the old
    ("community_code", pa.string()),
])

PLACES = pa.schema([
    ("place_id", pa.int64()),
    ("category", pa.string()),  # one of PLACE_CATEGORIES
    ("name", pa.string()),
    ("venue_code", pa.string()),
    ("jurisdiction_code", pa.string()),
    ("lon", pa.float64()),
    ("lat", pa.float64()),
])

FACILITIES = pa.schema([
    ("facility_id", pa.int64()),
    ("kind", pa.string()),  # one of FACILITY_KINDS
    ("name", pa.string()),
    ("jurisdiction_code", pa.string()),
    ("lon", pa.float64()),
    ("lat", pa.float64()),
    ("capacity", pa.int64()),  # rooms of an isolation site, beds of a hospital, else null
])

PRESENCE = pa.schema([
    ("person_id", pa.int64()),
    ("place_id", pa.int64()),
    ("t_in", UTC_TS),
    ("t_out", UTC_TS),
])

INFECTIONS = pa.schema([
    ("infectee_id", pa.int64()),
    ("infector_id", pa.int64()),  # null for the index case
    ("place_id", pa.int64()),  # null when infected at home
    ("infected_at", UTC_TS),
    ("onset_at", UTC_TS),  # null if asymptomatic
    ("asymptomatic", pa.bool_()),
    ("severity", pa.string()),  # one of SEVERITIES
])

FILES: dict[str, pa.Schema] = {
    "jurisdictions.parquet": JURISDICTIONS,
    "households.parquet": HOUSEHOLDS,
    "dwellings.parquet": DWELLINGS,
    "persons.parquet": PERSONS,
    "places.parquet": PLACES,
    "facilities.parquet": FACILITIES,
    "infections.parquet": INFECTIONS,
}
