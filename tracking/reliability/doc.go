// Package reliability holds the project's reliability and security tests: bad
// input over the real server, concurrent logging and registration, faults of the
// database, the S3 server and the server process, and access control. It has no
// code of its own beyond small test helpers; see docs/reliability.md.
package reliability
