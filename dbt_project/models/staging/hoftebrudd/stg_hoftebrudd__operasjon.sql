{{ kvalreg_stage('hoftebrudd', 'operasjon') }}
