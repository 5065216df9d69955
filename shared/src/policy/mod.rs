//! The QNX secpol policy language: parse, check, match, merge, diff and print.
