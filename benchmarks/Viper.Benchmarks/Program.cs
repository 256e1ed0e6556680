using BenchmarkDotNet.Running;

if (args is ["mistral-memory", .. var rest])
{
    return Viper.Benchmarks.MistralMemory.Run(rest);
}

BenchmarkSwitcher.FromAssembly(typeof(Viper.Benchmarks.Shapes).Assembly).Run(args);
return 0;
