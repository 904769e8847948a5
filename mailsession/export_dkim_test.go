package mailsession

// For the integration suite (package mailsession_test): the composed
// shapes and the two verifiers of dkim_test.go.
var (
	DKIMShapes      = dkimShapes
	HaveDKIMPy      = haveDKIMPy
	VerifyDKIMPy    = verifyDKIMPy
	VerifyGoMsgauth = verifyGoMsgauth
)
