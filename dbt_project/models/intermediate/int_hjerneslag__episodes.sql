{{ kvalreg_episodes('hjerneslag', base='akuttskjema', followups=['oppfolging']) }}
