module github.com/token-budget/examples/token-budget

go 1.26
