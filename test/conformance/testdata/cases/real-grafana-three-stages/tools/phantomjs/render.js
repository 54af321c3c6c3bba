// phantomjs render stand-in
