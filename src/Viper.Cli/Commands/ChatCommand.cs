using System.CommandLine;
using System.Globalization;
using Viper.Cli.Terminal;
using Viper.Imaging;
using Viper.Models.Idefics2;
using Viper.Pipelines.Chat;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>
/// `viper chat`: an IDEFICS2 answer about images, streamed to stdout as it is generated, then prompt and decode speeds
/// on stderr. The images, the messages file and every setting are checked before the model loads.
/// </summary>
internal static class ChatCommand
{
    private static readonly Option<DirectoryInfo> Model = new("--model") { Description = "An IDEFICS2 folder as downloaded (config.json, model*.safetensors, tokenizer.model, …)", Required = true, HelpName = "folder" };
    private static readonly Option<DirectoryInfo?> Adapter = new("--adapter")
    {
        Description = "A PEFT LoRA adapter folder (adapter_config.json, adapter_model.safetensors) merged into the weights at load — ViPer's VPE or metric adapter",
        HelpName = "folder",
    };
    private static readonly Option<FileInfo[]> Images = new("--image") { Description = "An image the prompt talks about (repeat for several, in the order of their <image> tokens)", HelpName = "file", AllowMultipleArgumentsPerToken = false };
    private static readonly Option<string?> Prompt = new("--prompt") { Description = "The prompt, used verbatim: write the chat turns yourself (\"User:<image>Describe it.<end_of_utterance>\\nAssistant:\"), one <image> per --image", HelpName = "text" };
    private static readonly Option<FileInfo?> Messages = new("--messages")
    {
        Description = "Chat messages (JSON: [{\"role\": \"user\", \"content\": [{\"type\": \"image\"}, {\"type\": \"text\", \"text\": \"…\"}]}]) rendered with the IDEFICS2 chat template",
        HelpName = "file",
    };
    private static readonly Option<int?> LongestEdge = OptionKinds.OptionalInt("--longest-edge", "Image processor: cap the longest edge at this many pixels (default: the folder's preprocessor_config.json; ViPer uses 448)", 1, 8192, "pixels");
    private static readonly Option<int?> ShortestEdge = OptionKinds.OptionalInt("--shortest-edge", "Image processor: lift each edge to at least this many pixels (ViPer uses 378)", 1, 8192, "pixels");
    private static readonly Option<string?> ImageSplitting = new("--image-splitting") { Description = "Image processor: split each image into four crops plus the whole (on|off; default: the folder's)", HelpName = "on|off" };
    private static readonly Option<int> MaxNewTokens = OptionKinds.Int("--max-new-tokens", "Tokens to generate at most", 256, 1, 32768);
    private static readonly Option<float> RepetitionPenalty = OptionKinds.Float("--repetition-penalty", "transformers' repetition penalty (1 = none; ViPer's extractor uses 0.99)", 1f, 0f, 100f, minExclusive: true);
    private static readonly Option<bool> PrintIds = new("--print-ids") { Description = "Print the generated token ids after the answer (to compare with transformers)" };
    private static readonly DeviceArguments Devices = new();
    private static readonly Option<string> Precision = OptionKinds.Precision("Compute dtype (weights are converted on load; bf16 keeps an 8B model in 16 GB)");
    private static readonly Option<string?> Weights = OptionKinds.LinearWeights("model's");

    public static Command Create()
    {
        OptionKinds.OneOf(ImageSplitting, "on or off", ["on", "off"]);
        var command = new Command("chat", "Answer a prompt about images with an IDEFICS2 model, streaming the tokens. " + ExitCodes.Help)
        {
            Model, Adapter, Images, Prompt, LongestEdge, ShortestEdge, ImageSplitting, Messages, MaxNewTokens, RepetitionPenalty, PrintIds, Precision, Weights,
        };
        Devices.AddTo(command);
        command.SetAction((result, cancellationToken) => Task.FromResult(CliErrors.Run(() => Run(result, cancellationToken))));
        return command;
    }

    private static int Run(ParseResult r, CancellationToken cancellationToken)
    {
        RgbImage[] images = [.. (r.GetValue(Images) ?? []).Select(f => ImageArguments.Read(f, "--image"))];
        string prompt = PromptText(r.GetValue(Prompt), r.GetValue(Messages), images.Length);
        string folder = ModelFolders.Model(r.GetValue(Model)!, "--model");
        string? adapter = ModelFolders.Adapter(r.GetValue(Adapter), "--adapter");

        var options = new ChatOptions { MaxNewTokens = r.GetValue(MaxNewTokens), RepetitionPenalty = r.GetValue(RepetitionPenalty) };
        using IBackend backend = Devices.Create(r);
        using Idefics2Chat chat = Idefics2Chat.Load(folder, backend, OptionKinds.ToDType(r.GetValue(Precision)!), new ChatLoadOptions
        {
            AdapterFolder = adapter, LinearWeights = OptionKinds.ToWeightFormat(r.GetValue(Weights)), Processor = folderSettings => folderSettings with
            {
                LongestEdge = r.GetValue(LongestEdge) ?? folderSettings.LongestEdge, ShortestEdge = r.GetValue(ShortestEdge) ?? folderSettings.ShortestEdge,
                DoImageSplitting = r.GetValue(ImageSplitting) is { } split ? split == "on" : folderSettings.DoImageSplitting,
            },
        }, new LoadProgressLine(folder), cancellationToken);
        ChatPrompt prepared = chat.Prepare(prompt, images);
        using ChatSession session = chat.Prefill(prepared, options.MaxNewTokens, cancellationToken);
        var ids = new List<int>();
        foreach (GeneratedToken token in session.Generate(options, cancellationToken))
        {
            Console.Out.Write(token.Text);
            Console.Out.Flush();
            ids.Add(token.Id);
        }

        Console.Out.WriteLine();
        if (r.GetValue(PrintIds))
        {
            CliOutput.Line("ids: " + string.Join(' ', ids.Select(i => i.ToString(CultureInfo.InvariantCulture))));
        }

        (int tokens, TimeSpan time) = session.LastDecode;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"prompt: {prepared.Ids.Count} tokens in {session.PrefillTime.TotalSeconds:F2} s ({prepared.Ids.Count / session.PrefillTime.TotalSeconds:F1} tokens/s); "
            + $"decode: {tokens} tokens in {time.TotalSeconds:F2} s ({tokens / Math.Max(time.TotalSeconds, 1e-9):F1} tokens/s)"));
        return ExitCodes.Ok;
    }

    // Exactly one of --prompt and --messages, with one image per <image> it holds.
    private static string PromptText(string? prompt, FileInfo? messages, int images)
    {
        if ((prompt is null) == (messages is null))
        {
            throw new UsageException("give either --prompt or --messages (one of them)");
        }

        if (messages is not null)
        {
            if (!messages.Exists)
            {
                throw new UsageException($"--messages {messages.FullName}: the file does not exist");
            }

            IReadOnlyList<ChatMessage> list = ChatMessage.ParseList(File.ReadAllText(messages.FullName), $"--messages {messages.Name}");
            string rendered = Idefics2Prompt.RenderChat(list);
            return Checked(rendered, images, "--messages");
        }

        return Checked(prompt!, images, "--prompt");
    }

    private static string Checked(string prompt, int images, string option)
    {
        int asked = Idefics2Prompt.CountImages(prompt);
        return asked == images ? prompt
            : throw new UsageException($"{option} has {asked} image(s) but {images} --image given: one --image per image in the prompt, in order");
    }
}
