using System.CommandLine;
using System.Globalization;
using Viper.Cli.Terminal;
using Viper.Pipelines;
using Viper.Pipelines.Aesthetic;
using Viper.Runtime;
using Viper.Schedulers;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper generate`: a personalized image from a diffusers pipeline folder, a prompt and a visual preference. Every
/// argument that can be checked without the model is checked (and files it names read) before any model loads.
/// </summary>
internal static class GenerateCommand
{
    private static readonly Option<string> Model = new("--model")
    {
        Description = "A diffusers pipeline folder (with model_index.json), or a single-file checkpoint as A1111/ComfyUI keep them (.safetensors, .ckpt; SD1.x, SD2.x, SDXL)",
        Required = true, HelpName = "folder|file",
    };
    private static readonly Option<string?> Refiner = new("--refiner") { Description = "An SDXL refiner (pipeline folder or single file), run for the end of the schedule", HelpName = "folder|file" };
    private static readonly Option<string?> Variant = new("--variant")
    {
        Description = "Weight files of this variant for every component (fp16: model.fp16.safetensors, diffusion_pytorch_model.fp16.safetensors)", HelpName = "variant",
    };
    private static readonly Option<string> Prompt = new("--prompt") { Description = "The prompt", Required = true, HelpName = "text" };
    private static readonly Option<string?> Negative = new("--negative-prompt")
    {
        Description = "The negative prompt (default: none — \"\" is encoded, except that plain SDXL generation uses zero embeddings when the folder's force_zeros_for_empty_prompt says so, as diffusers does; an explicit \"\" is always encoded)",
        HelpName = "text",
    };
    private static readonly Option<string?> Likes = new("--likes") { Description = "Liked visual attributes (VP+), comma-separated: \"watercolor, soft pastel tones\"", HelpName = "list" };
    private static readonly Option<string?> Dislikes = new("--dislikes") { Description = "Disliked visual attributes (VP−), comma-separated", HelpName = "list" };
    private static readonly Option<FileInfo?> Preferences = new("--preferences")
    {
        Description = "A preference file instead of --likes/--dislikes: JSON {\"likes\": [...], \"dislikes\": [...]}, or the extractor's 'Liked Art Features: … Disliked Art Features: …' text",
        HelpName = "file",
    };

    private static readonly Option<FileInfo?> Comments = new("--comments")
    {
        Description = "Commented images instead of --likes/--preferences: the extractor (--extractor, --adapter) turns them into the preference first, "
            + "then its memory is released before the diffusion models load; JSON [{\"image\": \"path\", \"comment\": \"text\"}, …]",
        HelpName = "file",
    };

    private static readonly Option<float> Beta = OptionKinds.Float("--beta",
        "β: how strongly the liked attributes pull the image toward them and the disliked ones push it away (β₊ = β₋; 0 = plain classifier-free guidance, bit for bit)",
        0.85f, GenerationLimits.Beta.Min, GenerationLimits.Beta.Max);
    private static readonly Option<float?> BetaNegative = OptionKinds.OptionalFloat("--beta-negative",
        "β₋ for the disliked attributes when it differs from --beta (reference form only)", GenerationLimits.Beta.Min, GenerationLimits.Beta.Max);
    private static readonly Option<string> Form = new("--form")
    {
        Description = "How the preference enters: reference = the ViPer authors' released code (4 UNet evaluations: prompt, negative, VP+, VP−); "
            + "paper = the paper's eq. 1 (p + β(VP+ − VP−)) and eq. 3",
        DefaultValueFactory = _ => "reference", HelpName = "reference|paper",
    };
    private static readonly Option<bool> NoShuffle = new("--no-shuffle") { Description = "Keep the attributes in the given order (the reference form shuffles them with the seed, as the authors' code does)" };
    private static readonly Option<bool> ChunkLongText = new("--chunk-long-text") { Description = "Encode text longer than the encoder's 77 tokens in 75-token windows instead of truncating it" };
    private static readonly Option<float> Guidance = OptionKinds.Float("--guidance", "Classifier-free guidance scale w", 5.0f, GenerationLimits.Guidance.Min, GenerationLimits.Guidance.Max);
    private static readonly Option<int> Steps = OptionKinds.Int("--steps", "Denoising steps", 40, GenerationLimits.Steps.Min, GenerationLimits.Steps.Max);
    private static readonly Option<string?> SchedulerName = new("--scheduler")
    {
        Description = $"The sampler: {string.Join(", ", SchedulerKind.Names)} (default: the folder's scheduler_config.json class, as diffusers)", HelpName = "name",
    };
    private static readonly Option<int?> Width = OptionKinds.OptionalInt("--width", "Image width in pixels (default: the model's native size, or the --init-image's); a multiple of the model's factor (8·2^(UNet levels − 1))", GenerationLimits.Size.Min, GenerationLimits.Size.Max, "pixels");
    private static readonly Option<int?> Height = OptionKinds.OptionalInt("--height", "Image height in pixels (default as --width)", GenerationLimits.Size.Min, GenerationLimits.Size.Max, "pixels");
    private static readonly Option<string> Seed = new("--seed")
    {
        Description = "Seed of the torch-compatible noise generator (and of the attribute shuffle); -1 picks a random seed, printed and recorded in the PNG",
        DefaultValueFactory = _ => "0", HelpName = "0..2^64-1|-1",
    };
    private static readonly Option<int> Batch = OptionKinds.Int("--batch", "Images per prompt", 1, GenerationLimits.Batch.Min, GenerationLimits.Batch.Max);
    private static readonly Option<double> DenoisingEnd = OptionKinds.Fraction("--denoising-end",
        "With --refiner: the fraction of the schedule the base model runs before the refiner takes over (0.8 = the first 80 % of the steps)", 0.8);
    private static readonly Option<FileInfo?> InitImage = new("--init-image") { Description = "Image-to-image: start from this picture (PNG, JPEG, BMP…) instead of pure noise", HelpName = "file" };
    private static readonly Option<double> Strength = OptionKinds.Fraction("--strength",
        "With --init-image: how much of the schedule runs, i.e. how far the result may move from the picture (1 = ignore it)", 0.8);
    private static readonly Option<int?> PreviewEvery = OptionKinds.OptionalInt("--preview-every",
        "Save a cheap preview (latents mapped to RGB, 1/8 size, no VAE) every n steps next to --out as NAME-preview-STAGE-STEP.png", 1, 1000);
    private static readonly DeviceArguments Devices = new("text", "unet", "refiner", "vae");
    private static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype of the text encoders and UNet (a VAE with force_upcast stays f32)");
    private static readonly Option<string?> Weights = OptionKinds.LinearWeights("UNet's and text encoders'");
    private static readonly Option<bool> CudaGraphs = new("--cuda-graphs")
    {
        Description = "CUDA backends: record each step's UNet evaluation once as a graph and replay it (holds the step's activations for the stage)",
    };
    private static readonly Option<FileInfo?> AestheticEmbeddingFile = new("--aesthetic-embedding")
    {
        Description = "Aesthetic gradients: tune the prompt's text encoder toward this embedding first (.pt or .safetensors, see viper aesthetic-embedding); SD1.x/2.x, needs --aesthetic-clip. With ViPer attributes, they steer the tuned prompt",
        HelpName = "file",
    };
    private static readonly Option<DirectoryInfo?> AestheticClip = new("--aesthetic-clip")
    {
        Description = "The CLIP model folder whose text model is tuned (openai/clip-vit-large-patch14 for SD1.x)", HelpName = "folder",
    };
    private static readonly Option<DirectoryInfo?> AestheticClipG = new("--aesthetic-clip-g")
    {
        Description = "SDXL: an OpenCLIP bigG CLIP folder whose text model is tuned toward the embedding's clip_g (default: a copy of the model's own text_encoder_2, the same tower)",
        HelpName = "folder",
    };
    private static readonly Option<float> AestheticWeight = OptionKinds.Float("--aesthetic-weight",
        "How much of the tuned conditioning to use: z·(1−w) + z_tuned·w (the A1111 extension's weight; its default 0.9, the released method's 1)", 1f, 0f, 1f);
    private static readonly Option<bool> AestheticSlerp = new("--aesthetic-slerp") { Description = "Mix by spherical interpolation instead (A1111's slerp: each channel across the tokens)" };
    private static readonly Option<string?> AestheticText = new("--aesthetic-text")
    {
        Description = "A text the target embedding is turned toward by --aesthetic-slerp-angle (A1111's \"aesthetic text for imgs\")", HelpName = "text",
    };
    private static readonly Option<float> AestheticSlerpAngle = OptionKinds.Float("--aesthetic-slerp-angle", "How far the target moves toward --aesthetic-text's feature", 0.1f, 0f, 1f);
    private static readonly Option<bool> AestheticTextNegative = new("--aesthetic-text-negative") { Description = "Move the target away from --aesthetic-text instead (the normalised images − text)" };
    private static readonly Option<int> AestheticSteps = AestheticArguments.Steps("--aesthetic-steps");
    private static readonly Option<double> AestheticLearningRate = AestheticArguments.LearningRate("--aesthetic-lr");
    private static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "After generating, print the device memory the CUDA backend's caching allocator holds (in use, peak, cached, reserved)",
    };
    private static readonly Option<FileInfo> Output = new("--out")
    {
        Description = "Output PNG (image i of a batch gets -i before the extension); its folder must exist", DefaultValueFactory = _ => new FileInfo("viper.png"), HelpName = "file",
    };

    public static Command Create()
    {
        OptionKinds.OneOf(Form, "a form", ["reference", "paper"]);
        OptionKinds.OneOf(SchedulerName, "a sampler", [.. SchedulerKind.Names]);
        Seed.Validators.Add(r => GenerateInputs.ValidateSeed(r));
        Variant.Validators.Add(r => GenerateInputs.ValidateVariant(r));
        var command = new Command("generate",
            "Generate images personalized with a visual preference (ViPer): liked attributes (VP+) pull the image toward them, disliked ones (VP−) "
            + "push it away, weighted by β. " + ExitCodes.Help)
        {
            Model, Refiner, Variant, Prompt, Negative, Likes, Dislikes, Preferences, Comments, PreferencesCommand.Extractor, PreferencesCommand.Adapter,
            PreferencesCommand.MaxNewTokens, PreferencesCommand.RepetitionPenalty, Beta, BetaNegative, Form, NoShuffle, ChunkLongText, Guidance, Steps,
            SchedulerName, Width, Height, Seed, Batch, DenoisingEnd, InitImage, Strength, PreviewEvery, Precision, Weights, CudaGraphs,
            AestheticEmbeddingFile, AestheticClip, AestheticClipG, AestheticSteps, AestheticLearningRate, AestheticWeight, AestheticSlerp, AestheticText,
            AestheticSlerpAngle, AestheticTextNegative, ModelFileArguments.Config, ModelFileArguments.Prediction,
            ModelFileArguments.Vae, ModelFileArguments.Loras, ModelFileArguments.Embeddings, Verbose, Output,
        };
        Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        FileInfo? comments = r.GetValue(Comments);
        if (comments is not null && (r.GetValue(Likes) is not null || r.GetValue(Dislikes) is not null || r.GetValue(Preferences) is not null))
        {
            throw new UsageException("--comments extracts the preference itself: leave out --likes, --dislikes and --preferences");
        }

        GenerateInputs inputs = GenerateInputs.Read(r.GetValue(Model)!, r.GetValue(Refiner), r.GetValue(Preferences), r.GetValue(Likes), r.GetValue(Dislikes),
            r.GetValue(InitImage), r.GetValue(Output)!, r.GetValue(Seed)!, r.GetValue(Devices.Threads), r.GetValue(Devices.Backend)!);
        inputs.CheckInitImageSize(r.GetValue(Width), r.GetValue(Height));
        (AestheticSettings? aesthetic, string? aestheticClip, string? aestheticClipG) = ReadAesthetic(r);
        IReadOnlyList<LoraWeight> loras = ModelFileArguments.ReadLoras(r.GetValue(ModelFileArguments.Loras));
        IReadOnlyList<EmbeddingToken> embeddings = ModelFileArguments.ReadEmbeddings(r.GetValue(ModelFileArguments.Embeddings));
        string? config = r.GetValue(ModelFileArguments.Config) is { } configFolder ? ModelFolders.Pipeline(configFolder, "--config") : null;
        if (config is not null && Directory.Exists(inputs.ModelFolder))
        {
            throw new UsageException("--config applies to a single-file --model; --model is a diffusers folder with its own configs");
        }
        if (inputs.RandomSeed)
        {
            CliOutput.Line($"seed: {inputs.Seed} (random)");
        }

        float beta = r.GetValue(Beta);
        var request = new GenerationRequest
        {
            Prompt = r.GetValue(Prompt)!, NegativePrompt = r.GetValue(Negative), Preference = inputs.Preference, BetaPositive = beta,
            BetaNegative = r.GetValue(BetaNegative) ?? beta, Form = r.GetValue(Form) == "paper" ? ViperForm.Paper : ViperForm.Reference,
            ShufflePreferences = !r.GetValue(NoShuffle), LongText = r.GetValue(ChunkLongText) ? LongTextMode.Chunk : LongTextMode.Truncate,
            Guidance = r.GetValue(Guidance), Steps = r.GetValue(Steps), Scheduler = r.GetValue(SchedulerName), Width = r.GetValue(Width),
            Height = r.GetValue(Height), Seed = inputs.Seed, Batch = r.GetValue(Batch), DenoisingEnd = r.GetValue(DenoisingEnd),
            InitImage = inputs.InitImage, Strength = r.GetValue(Strength), Aesthetic = aesthetic, Loras = loras,
        };
        var options = new PipelineOptions
        {
            DType = OptionKinds.ToDType(r.GetValue(Precision)!), LinearWeights = OptionKinds.ToWeightFormat(r.GetValue(Weights)), RefinerFolder = inputs.RefinerFolder, Variant = r.GetValue(Variant), CaptureSteps = r.GetValue(CudaGraphs),
            AestheticClipFolder = aestheticClip, AestheticClipGFolder = aestheticClipG, ConfigFolder = config, Prediction = ModelFileArguments.PredictionType(r.GetValue(ModelFileArguments.Prediction)),
            Vae = ModelFileArguments.VaePath(r.GetValue(ModelFileArguments.Vae)), Embeddings = embeddings,
        };
        ExtractorInputs? extractor = comments is null ? null : ExtractorInputs.Read(comments, r.GetValue(PreferencesCommand.Extractor), r.GetValue(PreferencesCommand.Adapter));
        var view = new GenerationProgressView();
        using PlacedBackends backends = Devices.OpenPlaced(r);
        IBackend backend = backends.Main;
        options = options with { Placement = backends.Placement };
        if (extractor is not null)
        {
            var extractorOptions = new Pipelines.Chat.ChatOptions
            {
                MaxNewTokens = r.GetValue(PreferencesCommand.MaxNewTokens), RepetitionPenalty = r.GetValue(PreferencesCommand.RepetitionPenalty),
            };
            VisualPreference extracted = PreferencesCommand.Extract(extractor, backend, options.DType, extractorOptions, cancellationToken).Preference;
            CliOutput.Line($"likes: {VisualPreference.Join(extracted.Likes)}");
            CliOutput.Line($"dislikes: {VisualPreference.Join(extracted.Dislikes)}");
            request = request with { Preference = extracted };
        }

        using ViperPipeline pipeline = view.Show(() => ViperPipeline.Load(inputs.ModelFolder, backend, options, view, cancellationToken));
        GenerateInputs.CheckSize(pipeline, request);
        foreach (string warning in pipeline.Warnings(request))
        {
            CliOutput.Warning(warning);
        }

        if (pipeline.IgnoredTensors.Count > 0)
        {
            CliOutput.Warning($"{pipeline.IgnoredTensors.Count} stored tensor(s) no model part reads were left out, as diffusers leaves them: {Viper.Models.SingleFile.SingleFileCheckpoint.Summarize(pipeline.IgnoredTensors)}");
        }

        var previews = r.GetValue(PreviewEvery) is { } every ? new PreviewWriter(inputs.Output, every) : null;
        GenerationResult result = view.Show(() => pipeline.Generate(request with { OnStepEnd = previews is null ? null : previews.Save }, view, cancellationToken));
        var setup = new GenerationSetup(backends.Describe(), options, inputs.ModelFolder, inputs.RefinerFolder, inputs.InitImagePath);
        foreach (string path in ImageParameters.Save(request, result, setup, inputs.Output))
        {
            CliOutput.Line($"wrote {path}");
        }

        if (result.AestheticLosses is { } losses)
        {
            CliOutput.Line(string.Create(CultureInfo.InvariantCulture, $"aesthetic loss: {losses[0]:F5} → {losses[^1]:F5} in {losses.Length - 1} step(s)"));
        }

        if (result.AestheticLossesG is { } lossesG)
        {
            CliOutput.Line(string.Create(CultureInfo.InvariantCulture, $"aesthetic loss (bigG, text_encoder_2): {lossesG[0]:F5} → {lossesG[^1]:F5}"));
        }

        view.PrintTimings(result);
        if (r.GetValue(Verbose))
        {
            CliOutput.Line(backend is Viper.Cuda.Backend.CudaBackend cuda ? $"device memory: {cuda.Memory}" : "device memory: none (the cpu backend)");
        }

        return ExitCodes.Ok;
    }

    /// <summary>The aesthetic-gradients options, checked together before anything loads.</summary>
    private static (AestheticSettings? Settings, string? ClipFolder, string? ClipGFolder) ReadAesthetic(ParseResult r)
    {
        FileInfo? embedding = r.GetValue(AestheticEmbeddingFile);
        DirectoryInfo? clip = r.GetValue(AestheticClip), clipG = r.GetValue(AestheticClipG);
        bool tuning = new Option[] { AestheticSteps, AestheticLearningRate, AestheticWeight, AestheticSlerp, AestheticText, AestheticSlerpAngle, AestheticTextNegative }
            .Any(o => r.GetResult(o) is { Implicit: false }) || clipG is not null;
        if (embedding is null)
        {
            return clip is null && !tuning ? (null, null, null)
                : throw new UsageException("--aesthetic-clip, --aesthetic-clip-g and the other --aesthetic-* options apply to --aesthetic-embedding, which is missing");
        }

        if (r.GetValue(AestheticTextNegative) && r.GetValue(AestheticText) is null)
        {
            throw new UsageException("--aesthetic-text-negative needs --aesthetic-text");
        }

        if (clip is null)
        {
            throw new UsageException("--aesthetic-embedding needs --aesthetic-clip: the CLIP model folder whose text model is tuned");
        }

        if (r.GetValue(ChunkLongText))
        {
            throw new UsageException("--aesthetic-embedding tunes the prompt's one 77-token window; leave out --chunk-long-text");
        }

        AestheticSettings settings = AestheticArguments.Settings(embedding, "--aesthetic-embedding", r.GetValue(AestheticSteps), r.GetValue(AestheticLearningRate)) with
        {
            Weight = r.GetValue(AestheticWeight), Slerp = r.GetValue(AestheticSlerp), Text = r.GetValue(AestheticText),
            SlerpAngle = r.GetValue(AestheticSlerpAngle), TextNegative = r.GetValue(AestheticTextNegative),
        };
        return (settings, AestheticArguments.ClipFolder(clip, "--aesthetic-clip"), clipG is null ? null : AestheticArguments.ClipFolder(clipG, "--aesthetic-clip-g"));
    }
}
