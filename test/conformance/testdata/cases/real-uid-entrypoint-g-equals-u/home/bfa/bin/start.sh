#!/bin/sh
echo start node
