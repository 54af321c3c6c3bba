module github.com/olliefr/docker-gs-ping

go 1.16

require github.com/labstack/echo/v4 v4.2.1
