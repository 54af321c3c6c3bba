package main

func main() { println("xdr gateway") }
