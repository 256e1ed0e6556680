namespace Viper.Schedulers;

/// <summary>The samplers the engine implements, by their CLI names and diffusers class names.</summary>
public static class SchedulerKind
{
    public static IReadOnlyList<string> Names { get; } = ["euler", "euler-a", "ddim", "ddpm", "dpm++2m", "dpm++2m-karras"];

    /// <summary>
    /// A scheduler for <paramref name="config"/>: <paramref name="name"/> when given (one of <see cref="Names"/>),
    /// otherwise the config's <c>_class_name</c>. A checkpoint whose class the engine lacks (SD1.5 ships PNDM) gets
    /// Euler discrete on the same noise schedule, as diffusers users do with <c>from_config</c>.
    /// </summary>
    public static Scheduler Create(SchedulerConfig config, string? name = null) => (name?.ToLowerInvariant()) switch
    {
        "euler" => new EulerDiscreteScheduler(config),
        "euler-a" => new EulerAncestralScheduler(config),
        "ddim" => new DdimScheduler(config),
        "ddpm" => new DdpmScheduler(config),
        "dpm++2m" => new DpmSolverMultistepScheduler(config with { UseKarrasSigmas = false }),
        "dpm++2m-karras" => new DpmSolverMultistepScheduler(config with { UseKarrasSigmas = true }),
        null => config.ClassName switch
        {
            "EulerAncestralDiscreteScheduler" => new EulerAncestralScheduler(config),
            "DDIMScheduler" => new DdimScheduler(config),
            "DDPMScheduler" => new DdpmScheduler(config),
            "DPMSolverMultistepScheduler" => new DpmSolverMultistepScheduler(config),
            _ => new EulerDiscreteScheduler(config),
        },
        _ => throw new ArgumentException($"unknown scheduler '{name}' (one of: {string.Join(", ", Names)})", nameof(name)),
    };
}
