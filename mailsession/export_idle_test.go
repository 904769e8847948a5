package mailsession

// SetIdleHook, for the integration suite (package mailsession_test), has f
// see the events of Receive's idle connection ("idle", "renew", "probe",
// "lost", "unsupported"), on its goroutine.
func SetIdleHook(s *Session, f func(event string)) { s.recv.idleHook = f }
