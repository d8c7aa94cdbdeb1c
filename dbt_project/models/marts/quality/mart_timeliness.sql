{#- Aktualitet per registry, treating unit (RESH as written) and year of the event: the
    exact median of whole days from the event date to the registration date (mean of the two
    middle values for an even count) and the share registered within the registry's own
    deadline (registry.yaml `deadline_days`; delay <= deadline counts as in time). Completed
    base forms only. -#}
{%- for registry in var('registries') %}
{%- set deadline = kvalreg_registry_meta(registry).get('deadline_days') if execute else none %}
{%- if not loop.first %}
union all
{%- endif %}
select
    '{{ registry }}' as registry,
    unit_resh,
    event_year as year,
    count(*) as registrations,
    cast(median(delay_days) as double) as median_days,
    cast({{ deadline if deadline is not none else 'null' }} as integer) as deadline_days,
    {%- if deadline is not none %}
    count(*) filter (where delay_days <= {{ deadline }}) as within_deadline,
    count(*) filter (where delay_days <= {{ deadline }}) / count(*) as share_within_deadline
    {%- else %}
    cast(null as bigint) as within_deadline,
    cast(null as double) as share_within_deadline
    {%- endif %}
from (
    select unit_resh, event_year,
        date_diff('day', event_date, cast(registered_at as date)) as delay_days
    from {{ ref('int_' ~ registry ~ '__episodes') }}
    where form_status = 1 and registered_at is not null and event_date is not null
)
group by unit_resh, event_year
{%- endfor %}
