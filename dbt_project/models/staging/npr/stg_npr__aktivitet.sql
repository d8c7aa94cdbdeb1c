{#- NPR delivers one activity extract per registry: the latest accepted one per `Register`. -#}
{{ kvalreg_stage('npr', 'aktivitet', snapshot_by='Register') }}
