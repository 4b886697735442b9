using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/Courier.Benchmarks -- --filter '*'   (add --job short for a quick look)
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
