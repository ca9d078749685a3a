package analysis

// MessageAllocBound is the most that parsing and analysing one message of
// size bytes allocates, garbage included, beyond the message itself: twice
// its size (decoded copies of its parts, attached messages nested in base64
// decoded again, within mail.Limits.MaxDecodedBytes) plus 48 MiB for the
// work on its text, which is bounded whatever the size (UTF-8 conversion
// within mail.Limits.MaxTextBytes, HTML rendering, the head and tail kept in
// mail.MaxContentText, at most mail.MaxURLs links). The memory tests check
// every hostile shape they know against it; the check command sizes its
// memory limit from it.
func MessageAllocBound(size int) int64 {
	return 2*int64(size) + 48<<20
}
