namespace Viper.Schedulers;

/// <summary>The samplers the engine implements, by their CLI names and diffusers class names.</summary>
public static class SchedulerKind
{
    public static IReadOnlyList<string> Names { get; } = ["euler", "euler-a", "ddim", "ddpm", "dpm++2m", "dpm++2m-karras"];

    /// <summary>
    /// A scheduler for <paramref name="config"/>: <paramref name="name"/> when given (one of <see cref="Names"/>),
    /// otherwise the config's <c>_class_name</c> (<see cref="DefaultFor"/>). Keys the folder's config does not state take
    /// the defaults of the class that runs (<see cref="SchedulerConfig.For"/>).
    /// </summary>
    public static Scheduler Create(SchedulerConfig config, string? name = null) => (name?.ToLowerInvariant() ?? DefaultFor(config).Name) switch
    {
        "euler" => new EulerDiscreteScheduler(config.For("EulerDiscreteScheduler")),
        "euler-a" => new EulerAncestralScheduler(config.For("EulerAncestralDiscreteScheduler")),
        "ddim" => new DdimScheduler(config.For("DDIMScheduler")),
        "ddpm" => new DdpmScheduler(config.For("DDPMScheduler")),
        "dpm++2m" => new DpmSolverMultistepScheduler(config.For("DPMSolverMultistepScheduler") with { UseKarrasSigmas = false }),
        "dpm++2m-karras" => new DpmSolverMultistepScheduler(config.For("DPMSolverMultistepScheduler") with { UseKarrasSigmas = true }),
        _ => throw new ArgumentException($"unknown scheduler '{name}' (one of: {string.Join(", ", Names)})", nameof(name)),
    };

    /// <summary>
    /// The sampler diffusers uses by default for a folder: its scheduler_config.json class. A class the engine lacks
    /// (SD1.5 ships PNDM) gets Euler discrete on the same noise schedule, as diffusers users do with <c>from_config</c>;
    /// <c>Fallback</c> says so, for the caller to announce.
    /// </summary>
    public static (string Name, string? Fallback) DefaultFor(SchedulerConfig config) => config.ClassName switch
    {
        "EulerDiscreteScheduler" => ("euler", null),
        "EulerAncestralDiscreteScheduler" => ("euler-a", null),
        "DDIMScheduler" => ("ddim", null),
        "DDPMScheduler" => ("ddpm", null),
        "DPMSolverMultistepScheduler" => (config.UseKarrasSigmas ? "dpm++2m-karras" : "dpm++2m", null),
        _ => ("euler", $"the folder's scheduler {config.ClassName} is not implemented: using euler on its noise schedule"),
    };
}
