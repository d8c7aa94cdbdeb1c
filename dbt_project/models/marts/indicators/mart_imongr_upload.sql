{#- The imongr upload (kvalitetsregistre.no): `context, year, orgnr, ind_id, var,
    denominator`, aggregated per unit; suppressed cells are not uploaded. -#}
select
    context,
    year,
    orgnr,
    ind_id,
    var,
    denominator,
    type,
    unit_level
from {{ ref('mart_indicators') }}
where not suppressed
