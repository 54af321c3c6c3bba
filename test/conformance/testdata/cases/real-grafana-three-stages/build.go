// +build ignore

package main
