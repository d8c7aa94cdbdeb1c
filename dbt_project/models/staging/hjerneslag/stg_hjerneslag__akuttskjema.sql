{{ kvalreg_stage('hjerneslag', 'akuttskjema') }}
