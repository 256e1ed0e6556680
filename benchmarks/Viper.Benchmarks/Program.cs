using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Viper.Benchmarks.Shapes).Assembly).Run(args);
