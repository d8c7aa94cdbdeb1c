{#- The reporting levels of each context: `caregiver` attributes an episode to its treating
    unit (hospital -> HF -> RHF -> nation), `resident` to the HF whose catchment holds the
    patient's home municipality (HF -> RHF -> nation). Returns (context, level, orgnr column). -#}
{% macro kvalreg_levels() -%}
    {{- return([
        ('caregiver', 'hospital', 'hospital_orgnr'),
        ('caregiver', 'hf', 'hf_orgnr'),
        ('caregiver', 'rhf', 'rhf_orgnr'),
        ('caregiver', 'nation', "'" ~ var('nation_orgnr') ~ "'"),
        ('resident', 'hf', 'res_hf_orgnr'),
        ('resident', 'rhf', 'res_rhf_orgnr'),
        ('resident', 'nation', "'" ~ var('nation_orgnr') ~ "'"),
    ]) -}}
{%- endmacro %}
