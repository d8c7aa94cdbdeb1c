{#- NPR's coverage result (dekningsgradsanalyse) per registry: the latest accepted one per
    `Register`. Counts per unit and year: KunRegister (a), Begge (b), KunNPR (c). -#}
{{ kvalreg_stage('npr', 'dekningsgrad', snapshot_by='Register') }}
