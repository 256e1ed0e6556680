using System.CommandLine;
using Viper.Cli.Terminal;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>
/// Where a command runs: <c>--backend</c>, <c>--device N</c> (which GPU; CUDA_VISIBLE_DEVICES applies first, as for any
/// CUDA program), <c>--threads</c> (the CPU backend's), and for commands with several models <c>--place</c>, a
/// component=device list that puts each named component on its own device (the rest on --backend/--device).
/// One instance per command: an option belongs to one command.
/// </summary>
internal sealed class DeviceArguments
{
    private readonly string[] _components;

    /// <param name="components">What <c>--place</c> may name (none: the command has no <c>--place</c>).</param>
    public DeviceArguments(params string[] components)
    {
        _components = components;
        OptionKinds.OneOf(Backend, "a backend", BackendChoice.Names);
        Place = components.Length == 0 ? null : new Option<string?>("--place")
        {
            Description = $"Put components on devices, e.g. {components[0]}=cuda:1; components: {string.Join(", ", components)}; devices: cpu, cuda:N, cuda-emulated:N",
            HelpName = "component=device,…",
        };
        Place?.Validators.Add(r =>
        {
            try
            {
                _ = ParsePlacement(r.Tokens.Count > 0 ? r.Tokens[0].Value : null);
            }
            catch (ArgumentException e)
            {
                r.AddError(e.Message);
            }
        });
    }

    public Option<string> Backend { get; } = new("--backend") { Description = "Where to run: cpu, cuda (a GPU) or cuda-emulated", DefaultValueFactory = _ => "cpu", HelpName = "backend" };

    public Option<int?> Device { get; } = OptionKinds.OptionalInt("--device", "Which GPU a cuda backend uses (after CUDA_VISIBLE_DEVICES; default 0)", 0, 63, "N");

    public Option<int?> Threads { get; } = OptionKinds.OptionalInt("--threads", "CPU backend threads (default: all cores)", 1, 1024);

    public Option<string?>? Place { get; }

    public void AddTo(Command command)
    {
        command.Options.Add(Backend);
        command.Options.Add(Device);
        command.Options.Add(Threads);
        if (Place is not null)
        {
            command.Options.Add(Place);
        }
    }

    /// <summary>The device --backend and --device name (what components not in --place run on).</summary>
    public DeviceName Name(ParseResult r)
    {
        string backend = r.GetValue(Backend)!;
        int? device = r.GetValue(Device);
        if (device is { } d && backend == "cpu")
        {
            throw new UsageException($"--device {d} names a GPU; --backend cpu has none (use --backend cuda)");
        }

        return new DeviceName(backend, device ?? 0);
    }

    /// <summary>The backend of <see cref="Name"/>.</summary>
    public IBackend Create(ParseResult r) => BackendChoice.Create(Name(r), r.GetValue(Threads));

    /// <summary>
    /// The backends of --backend/--device and of every device --place names, one per device (components on one device
    /// share its backend and its memory), for the caller to dispose together.
    /// </summary>
    public PlacedBackends OpenPlaced(ParseResult r)
    {
        DeviceName main = Name(r);
        IReadOnlyDictionary<string, DeviceName> placement = Placement(r);
        var opened = new PlacedBackends(main, placement);
        try
        {
            foreach (DeviceName device in placement.Values.Prepend(main).Distinct())
            {
                opened.Add(device, BackendChoice.Create(device, r.GetValue(Threads)));
            }

            return opened;
        }
        catch
        {
            opened.Dispose();
            throw;
        }
    }

    /// <summary>The components --place names, with their devices (empty without --place).</summary>
    public IReadOnlyDictionary<string, DeviceName> Placement(ParseResult r) => ParsePlacement(Place is null ? null : r.GetValue(Place));

    private Dictionary<string, DeviceName> ParsePlacement(string? text)
    {
        var placed = new Dictionary<string, DeviceName>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(text))
        {
            return placed;
        }

        foreach (string entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = entry.IndexOf('=');
            string component = equals < 0 ? entry : entry[..equals].Trim();
            if (equals < 0 || !_components.Contains(component))
            {
                throw new ArgumentException(equals < 0
                    ? $"--place: '{entry}' is not component=device"
                    : $"--place: '{component}' is not a component here ({string.Join(", ", _components)})");
            }

            if (!placed.TryAdd(component, DeviceName.Parse(entry[(equals + 1)..], $"--place {component}")))
            {
                throw new ArgumentException($"--place: {component} is placed twice");
            }
        }

        return placed;
    }
}
