{#- The indicator definitions in imongr's `ind` shape, from each registry's indicators.yaml
    (via the generated sources' meta). Exported as exports/imongr/ind.csv. -#}
{%- set columns = [
    ('id', 'varchar'), ('dg_id', 'varchar'), ('include', 'integer'), ('title', 'varchar'),
    ('name', 'varchar'), ('type', 'varchar'), ('sformat', 'varchar'),
    ('measure_unit', 'varchar'), ('min_denominator', 'integer'), ('min_value', 'double'),
    ('max_value', 'double'), ('level_green', 'double'), ('level_yellow', 'double'),
    ('level_direction', 'integer'), ('short_description', 'varchar'),
    ('long_description', 'varchar'), ('registry_id', 'varchar')] -%}
{%- set indicators = kvalreg_indicators() if execute else [] %}
{%- if indicators %}
select * from (values
{%- for ind in indicators %}
    ({% for name, type in columns -%}
        {%- set v = ind.get(name) -%}
        {%- if v is none -%}cast(null as {{ type }})
        {%- elif type == 'varchar' -%}{{ kvalreg_sql_string(v) }}
        {%- else -%}cast({{ v }} as {{ type }})
        {%- endif -%}{{ ", " if not loop.last }}
    {%- endfor %}){{ "," if not loop.last }}
{%- endfor %}
) as t ({% for name, _ in columns %}{{ name }}{{ ", " if not loop.last }}{% endfor %})
{%- else %}
select {% for name, type in columns %}cast(null as {{ type }}) as {{ name }}{{ ", " if not loop.last }}{% endfor %}
where false
{%- endif %}
