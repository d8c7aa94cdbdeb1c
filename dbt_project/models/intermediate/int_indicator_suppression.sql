{#- Which indicator cells are hidden, and why: `primary` when the denominator is below the
    indicator's min_denominator (default var('min_cell_size') = 5), `secondary` when hiding
    is needed so that no primary cell can be recovered from totals or neighbouring levels
    (see macros/kvalreg_suppression.sql for the passes and the invariants). -#}
with s0 as (
    select
        c.ind_id,
        c.context,
        c.unit_level,
        c.orgnr,
        c.year,
        c.denominator,
        o.parent_orgnr,
        c.denominator < coalesce(d.min_denominator, {{ var('min_cell_size') }}) as hidden,
        case
            when c.denominator < coalesce(d.min_denominator, {{ var('min_cell_size') }})
                then 'primary'
        end as reason
    from {{ ref('int_indicator_cells') }} as c
    inner join {{ ref('mart_indicator_definitions') }} as d on d.id = c.ind_id
    left join {{ ref('dim_org') }} as o on o.unit_level = c.unit_level and o.orgnr = c.orgnr
),
{{ kvalreg_suppress_pass('s1', 's0', 'hospital', 'hf', 'asc') }},
{{ kvalreg_suppress_pass('s2', 's1', 'hf', 'rhf', 'asc') }},
{{ kvalreg_suppress_pass('s3', 's2', 'hospital', 'hf', 'desc') }},
{{ kvalreg_suppress_pass('s4', 's3', 'rhf', 'nation', 'asc') }},
{{ kvalreg_suppress_pass('s5', 's4', 'hf', 'rhf', 'desc') }},
{{ kvalreg_suppress_pass('s6', 's5', 'hospital', 'hf', 'desc') }}

select ind_id, context, unit_level, orgnr, year, parent_orgnr, hidden as suppressed,
    reason as suppression_reason
from s6
