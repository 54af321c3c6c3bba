//go:build ignore
// +build ignore

package main
