{{ kvalreg_stage('hjerneslag', 'oppfolging') }}
