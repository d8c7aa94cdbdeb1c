{#- kvalreg/reference/municipalities.csv: home municipality -> catchment HF (resident context). -#}
select
    lpad(cast(kommunenummer as varchar), 4, '0') as kommunenummer,
    kommune,
    hf,
    rhf
from {{ ref('municipalities') }}
