{{ kvalreg_episodes('hoftebrudd', base='operasjon', followups=['oppfolging']) }}
