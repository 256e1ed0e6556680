using System.CommandLine;
using Spectre.Console;
using Viper.Cli.Terminal;
using Viper.Models.Adapters;
using Viper.Models.Checkpoints;
using Viper.Weights;

namespace Viper.Cli.Commands;

/// <summary>`viper inspect PATH`: lists a checkpoint's tensors, optionally checks or writes its manifest.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var path = new Argument<string>("path")
        {
            Description = "A .safetensors file, a *.safetensors.index.json, a component folder, a pipeline folder, or a PEFT adapter folder",
        };
        var manifest = new Option<FileInfo?>("--manifest")
        {
            Description = "Check against this manifest: a weights manifest (weights-manifest/*.json) for a checkpoint, "
                + "or a pipeline manifest (weights-manifest/pipelines/*.json) for a whole diffusers pipeline folder; "
                + "for a PEFT adapter folder, the manifest of its base model (whether the adapter fits it)",
        };
        var variant = new Option<string?>("--variant") { Description = "For a pipeline folder: summarise or check the weight files of this variant (fp16)", HelpName = "variant" };
        var writeManifest = new Option<string?>("--write-manifest") { Description = "Print a manifest for this checkpoint under the given checkpoint name" };
        var limit = new Option<int>("--limit") { Description = "Rows of the tensor table to show (0 = all)", DefaultValueFactory = _ => 40 };
        var command = new Command("inspect", "Show the tensors of a safetensors checkpoint, or the components of a pipeline folder, and validate them. " + ExitCodes.Help)
        {
            path, manifest, variant, writeManifest, limit,
        };
        command.SetAction(result => Inspect(result.GetValue(path)!, result.GetValue(manifest), result.GetValue(variant), result.GetValue(writeManifest),
            result.GetValue(limit)));
        return command;
    }

    // What the path and the manifest are decide what is checked: a pipeline against a pipeline manifest, an adapter
    // against its base's weights manifest, a pipeline folder alone is summarised, anything else is a checkpoint.
    private static int Inspect(string path, FileInfo? manifest, string? variant, string? writeManifest, int limit)
    {
        if (manifest is not null && PipelineManifest.IsPipelineManifest(manifest.FullName))
        {
            return CheckPipeline(path, manifest, variant);
        }

        if (manifest is not null && IsAdapterFolder(path))
        {
            return CheckAdapter(path, manifest);
        }

        return manifest is null && writeManifest is null && PipelineSummary.IsPipelineFolder(path)
            ? Summarise(path, variant)
            : Run(path, manifest, writeManifest, limit);
    }

    private static int Summarise(string folder, string? variant)
    {
        try
        {
            PipelineSummary.Show(folder, variant);
            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or IOException or InvalidOperationException)
        {
            return CliOutput.Error($"{folder}: {e.Message}");
        }
    }

    private static int Run(string path, FileInfo? manifestFile, string? writeManifest, int limit)
    {
        try
        {
            using WeightStore store = WeightStore.Open(path);
            if (writeManifest is not null)
            {
                Console.WriteLine(WeightsManifest.Describe(writeManifest, store).ToJson());
                return 0;
            }

            Show(store, limit);
            if (manifestFile is null)
            {
                return 0;
            }

            ManifestReport report = WeightsManifest.Load(manifestFile.FullName).Check(store);
            AnsiConsole.MarkupLine(report.IsValid ? "[green]{0}[/]" : "[red]{0}[/]", Markup.Escape(report.ToString()));
            return report.IsValid ? 0 : 1;
        }
        catch (Exception e) when (e is SafeTensorsFormatException or WeightsException or FileNotFoundException)
        {
            return CliOutput.Error(e.Message);
        }
    }

    private static int CheckPipeline(string folder, FileInfo manifestFile, string? variant)
    {
        try
        {
            PipelineReport report = PipelineManifest.Load(manifestFile.FullName).Check(folder, variant);
            AnsiConsole.MarkupLine(report.IsValid ? "[green]{0}[/]" : "[red]{0}[/]", Markup.Escape(report.ToString()));
            return report.IsValid ? 0 : 1;
        }
        catch (WeightsException e)
        {
            return CliOutput.Error(e.Message);
        }
    }

    private static bool IsAdapterFolder(string path) => File.Exists(Path.Combine(path, "adapter_config.json"));

    private static int CheckAdapter(string folder, FileInfo baseManifestFile)
    {
        try
        {
            WeightsManifest baseManifest = WeightsManifest.Load(baseManifestFile.FullName);
            using PeftLoraAdapter adapter = PeftLoraAdapter.Load(folder);
            adapter.CheckAgainst(baseManifest);
            AnsiConsole.MarkupLine("[green]{0}[/]", Markup.Escape(
                $"{folder} fits {baseManifest.Checkpoint}: LoRA (r {adapter.Config.R}) on {adapter.Modules.Count} linear layers"));
            foreach (string warning in adapter.Warnings)
            {
                CliOutput.Warning(warning);
            }

            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is InvalidDataException or SafeTensorsFormatException or WeightsException or FileNotFoundException)
        {
            return CliOutput.Error(e.Message);
        }
    }

    private static void Show(WeightStore store, int limit)
    {
        var entries = store.Entries.OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
        var table = new Table().AddColumns("tensor", "dtype", "shape", "bytes");
        foreach (TensorEntry e in limit > 0 ? entries.Take(limit) : entries)
        {
            table.AddRow(Markup.Escape(e.Name), e.DType.ToString(), Markup.Escape(e.Shape.ToString()), $"{e.ByteLength:N0}");
        }

        AnsiConsole.Write(table);
        if (limit > 0 && entries.Count > limit)
        {
            AnsiConsole.MarkupLine("… {0} more (--limit 0 shows all)", entries.Count - limit);
        }

        long bytes = entries.Sum(e => e.ByteLength);
        long parameters = entries.Sum(e => e.Shape.ElementCount);
        AnsiConsole.MarkupLine("{0} tensors, {1:N0} parameters, {2:N1} MiB in {3}", entries.Count, parameters, bytes / 1048576.0,
            Markup.Escape(string.Join(", ", store.Files.Select(Path.GetFileName))));
        var byDType = entries.GroupBy(e => e.DType).Select(g => $"{g.Key}: {g.Count()}");
        AnsiConsole.MarkupLine("dtypes: {0}", string.Join(", ", byDType));
        foreach ((string file, IReadOnlyDictionary<string, string> metadata) in store.Metadata.Where(m => m.Value.Count > 0))
        {
            AnsiConsole.MarkupLine("metadata of {0}:", Markup.Escape(Path.GetFileName(file)));
            foreach ((string key, string value) in metadata)
            {
                AnsiConsole.MarkupLine("  {0} = {1}", Markup.Escape(key), Markup.Escape(value));
            }
        }
    }
}
