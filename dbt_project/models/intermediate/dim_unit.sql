{#- RESH -> hospital (orgnr) -> HF -> RHF, one row per RESH with its validity period.
    A RESH is never reused, so facts join on the RESH alone; re-coded RESH ids of the same
    unit share unit_key and hospital, so they roll up to the same hospital across years. -#}
select * from {{ ref('stg_reference__units') }}
