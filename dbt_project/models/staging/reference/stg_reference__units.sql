{#- The unit dimension source: kvalreg/reference/units.csv (seeded as-is). RESH ids are
    history-tracked: a re-coded unit keeps its unit_key and gets a new RESH row. -#}
select
    cast(resh as varchar) as unit_resh,
    unit_key,
    unit_name,
    hospital,
    hospital_orgnr,
    hf,
    hf_orgnr,
    rhf,
    rhf_orgnr,
    valid_from,
    valid_to,
    lower(trim(synthetic)) = 'ja' as is_synthetic
from {{ ref('units') }}
