package bar
