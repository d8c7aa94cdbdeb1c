{#- Variabelkompletthet per registry, form, variable, unit (RESH as written) and event year,
    over completed forms: `missing` = empty or not valid for its type (ingestion loads such a
    value as NULL), `unknown` = a codebook missing code ("Ukjent"), and completeness =
    1 - (missing + unknown) / forms. Follow-up forms count under their own unit and the
    episode's event year. Variables come from the generated sources, so a codebook change
    changes this mart without a model edit.

    One pass over the episodes per form counts every variable of it (`present<i>`,
    `unknown<i>`), and a lateral VALUES list turns those columns into one row per variable:
    a pass per variable read the 10M-row episodes table some forty times (≈ 20 s). -#}
{%- set branches = [] -%}
{%- for registry in var('registries') -%}
    {%- set episodes = ref('int_' ~ registry ~ '__episodes') -%}
    {%- if execute -%}
        {%- set meta = kvalreg_registry_meta(registry) -%}
        {%- for node in kvalreg_source_nodes('raw_' ~ registry) -%}
            {%- set prefix = '' if node.name == meta.base_form else node.name ~ '_' -%}
            {%- set variables = [] -%}
            {%- for col in node.columns.values() if not col.name.startswith('_') -%}
                {#- the episode keys of a follow-up are the base form's (joined on them) -#}
                {%- if not (prefix and kvalreg_staged_name(col.name, meta['keys'])
                            in ['episode_id', 'patient_id', 'person_key']) -%}
                {%- set cmeta = col.meta.get('kvalreg', {}) -%}
                {%- do variables.append({
                    'name': col.name,
                    'staged': adapter.quote(prefix ~ kvalreg_staged_name(col.name, meta['keys'])),
                    'mandatory': cmeta.get('mandatory', false),
                    'codes': cmeta.get('missing_codes', []),
                }) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- if variables -%}
                {%- set sql -%}
    select
        '{{ registry }}' as registry,
        '{{ node.name }}' as form,
        v.variable,
        v.mandatory,
        c.unit_resh,
        c.year,
        c.forms,
        c.forms - v.present as missing,
        v.unknown
    from (
        select
            {{ prefix }}unit_resh as unit_resh,
            event_year as year,
            count(*) as forms
            {%- for v in variables %},
            count({{ v.staged }}) as present{{ loop.index }}
            {%- if v.codes %},
            count(*) filter (where cast({{ v.staged }} as varchar) in (
                {%- for c in v.codes %}{{ kvalreg_sql_string(c) }}{{ ", " if not loop.last }}{% endfor %})) as unknown{{ loop.index }}
            {%- endif %}
            {%- endfor %}
        from {{ episodes }}
        where {{ prefix }}form_status = 1
        group by all
    ) as c,
    lateral (values
        {%- for v in variables %}
        ({{ kvalreg_sql_string(v.name) }}, {{ 'true' if v.mandatory else 'false' }}, c.present{{ loop.index }}, {{ ('c.unknown' ~ loop.index) if v.codes else '0' }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as v (variable, mandatory, present, unknown)
                {%- endset -%}
                {%- do branches.append(sql) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endfor %}
with counts as (
{%- if branches %}
{{ branches | join('\n    union all\n') }}
{%- else %}
    select null::varchar as registry, null::varchar as form, null::varchar as variable,
        null::boolean as mandatory, null::varchar as unit_resh, null::bigint as year,
        0::bigint as forms, 0::bigint as missing, 0::bigint as unknown
    where false
{%- endif %}
)

select
    registry,
    form,
    variable,
    mandatory,
    unit_resh,
    year,
    cast(forms as bigint) as forms,
    cast(missing as bigint) as missing,
    cast(unknown as bigint) as unknown,
    1 - (missing + unknown) / forms as completeness
from counts
