{{ kvalreg_stage('hoftebrudd', 'oppfolging') }}
