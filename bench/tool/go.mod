module taboxbench

go 1.22
