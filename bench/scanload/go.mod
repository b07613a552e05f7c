module antoan/scanload

go 1.22
