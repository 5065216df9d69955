//! The generator's control protocol (`secpolctl` and `secpolgenerate -C`), over ZeroMQ REQ/REP.
