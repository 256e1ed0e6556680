using BenchmarkDotNet.Running;

if (args is ["format-accuracy", .. var accuracyArgs])
{
    return Viper.Benchmarks.FormatAccuracy.Run(accuracyArgs);
}

if (args is ["decode-paired", .. var pairedArgs])
{
    return Viper.Benchmarks.DecodePaired.Run(pairedArgs);
}

if (args is ["mistral-memory", .. var rest])
{
    return Viper.Benchmarks.MistralMemory.Run(rest);
}

if (args is ["idefics2-decode", .. var decodeArgs])
{
    return Viper.Benchmarks.Idefics2Decode.Run(decodeArgs);
}

if (args is ["idefics2-inputs", var path])
{
    using var cpu = new Viper.Backends.Cpu.CpuBackend();
    using Viper.Pipelines.Chat.Idefics2Chat chat = Viper.Benchmarks.Idefics2Workload.LoadChat(cpu);
    Viper.Benchmarks.Idefics2Workload.ExportInputs(chat, path);
    Console.WriteLine($"wrote {path} ({Viper.Benchmarks.Idefics2Workload.Folder})");
    return 0;
}

if (args is ["aesthetic-sdxl", .. var aestheticArgs])
{
    return Viper.Benchmarks.AestheticSdxlTiming.Run(aestheticArgs);
}

if (args is ["two-devices", .. var twoDeviceArgs])
{
    return Viper.Benchmarks.TwoDeviceJobs.Run(twoDeviceArgs);
}

if (args is ["redis-workers", .. var redisArgs])
{
    return Viper.Benchmarks.RedisWorkerThroughput.Run(redisArgs);
}

if (args is ["aesthetic-inputs"])
{
    Viper.Benchmarks.AestheticBenchmarks.ExportInputs();
    Console.WriteLine($"wrote {Viper.Benchmarks.AestheticBenchmarks.Folder}");
    return 0;
}

if (args is ["aesthetic-sdxl-inputs"])
{
    Viper.Benchmarks.AestheticBenchmarks.ExportInputs();
    Viper.Benchmarks.SdxlAestheticBenchmarks.ExportInputs();
    Console.WriteLine($"wrote {Viper.Benchmarks.AestheticBenchmarks.Folder} and {Viper.Benchmarks.SdxlAestheticBenchmarks.FolderG}");
    return 0;
}

BenchmarkSwitcher.FromAssembly(typeof(Viper.Benchmarks.Shapes).Assembly).Run(args);
return 0;
