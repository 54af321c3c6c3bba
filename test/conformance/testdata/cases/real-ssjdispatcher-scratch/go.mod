module github.com/uc-cdis/ssjdispatcher

go 1.21
