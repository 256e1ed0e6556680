using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Viper.Runtime;

namespace Viper.Cli.Commands;

/// <summary>
/// Options whose values are parsed and range-checked by the command line itself, with messages in its own words
/// (the option as typed, the accepted range; no .NET type names). Non-finite numbers (inf, NaN) are refused.
/// </summary>
internal static class OptionKinds
{
    public static Option<float> Float(string name, string description, float defaultValue, float min, float max, bool minExclusive = false)
    {
        string range = $"{(minExclusive ? "(" : "[")}{Show(min)}, {Show(max)}]";
        var option = new Option<float>(name)
        {
            Description = $"{description}; {range}", HelpName = HelpName(min, max), DefaultValueFactory = _ => defaultValue,
        };
        option.CustomParser = r => (float)(ParseNumber(r, name, min, max, minExclusive, range) ?? defaultValue);
        return option;
    }

    /// <summary>A float option with no default: null when not given.</summary>
    public static Option<float?> OptionalFloat(string name, string description, float min, float max)
    {
        string range = $"[{Show(min)}, {Show(max)}]";
        var option = new Option<float?>(name) { Description = $"{description}; {range}", HelpName = HelpName(min, max) };
        option.CustomParser = r => (float?)ParseNumber(r, name, min, max, minExclusive: false, range);
        return option;
    }

    /// <summary>A fraction in (0, 1], parsed as a double (0.7 stays 0.7: int(10 · 0.7) steps are 7, as in Python).</summary>
    public static Option<double> Fraction(string name, string description, double defaultValue)
    {
        var option = new Option<double>(name) { Description = $"{description}; (0, 1]", HelpName = "0..1", DefaultValueFactory = _ => defaultValue };
        option.CustomParser = r => ParseNumber(r, name, 0, 1, minExclusive: true, "(0, 1]") ?? defaultValue;
        return option;
    }

    /// <summary>A positive number parsed as a double (a learning rate: 1e-4 stays Python's 1e-4).</summary>
    public static Option<double> PositiveDouble(string name, string description, double defaultValue, double max)
    {
        string range = $"(0, {Show((float)max)}]";
        var option = new Option<double>(name) { Description = $"{description}; {range}", HelpName = "x", DefaultValueFactory = _ => defaultValue };
        option.CustomParser = r => ParseNumber(r, name, 0, max, minExclusive: true, range) ?? defaultValue;
        return option;
    }

    public static Option<int> Int(string name, string description, int defaultValue, int min, int max)
    {
        var option = new Option<int>(name) { Description = $"{description}; {min}..{max}", HelpName = "n", DefaultValueFactory = _ => defaultValue };
        option.CustomParser = r => ParseInt(r, name, min, max) ?? defaultValue;
        return option;
    }

    public static Option<int?> OptionalInt(string name, string description, int min, int max, string helpName = "n")
    {
        var option = new Option<int?>(name) { Description = $"{description}; {min}..{max}", HelpName = helpName };
        option.CustomParser = r => ParseInt(r, name, min, max);
        return option;
    }

    /// <summary>f32 / f16 / bf16 in the engine's, diffusers' and PyTorch's spellings; read with <see cref="ToDType"/>.</summary>
    public static Option<string> Precision(string description)
    {
        var option = new Option<string>("--dtype")
        {
            Description = $"{description}: f32 (fp32, float32), f16 (fp16, float16, half) or bf16 (bfloat16)", HelpName = "dtype",
            DefaultValueFactory = _ => "f32",
        };
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && ToDTypeOrNull(r.Tokens[0].Value) is null)
            {
                r.AddError($"--dtype: '{r.Tokens[0].Value}' is not a dtype (f32, fp32, float32, f16, fp16, float16, half, bf16, bfloat16)");
            }
        });
        return option;
    }

    /// <summary>
    /// <c>--weights</c>: the format linear layers' weights are kept in — int8 (per channel), fp8 (E4M3 per channel), q8_0,
    /// q4_0 (llama.cpp blocks of 32), or bf16/f16/f32 read as that dtype whatever --dtype computes in. Absent: as --dtype.
    /// </summary>
    public static Option<string?> LinearWeights(string what)
    {
        var option = new Option<string?>("--weights")
        {
            Description = $"Format of the {what} linear weights, quantized as they load (a checkpoint written by 'viper quantize' loads as stored): " +
                "int8, fp8, q8_0, q4_0, bf16, f16 or f32; default: the --dtype",
            HelpName = "format",
        };
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && ToWeightFormatOrNull(r.Tokens[0].Value) is null)
            {
                r.AddError($"--weights: '{r.Tokens[0].Value}' is not a weight format (int8, fp8, q8_0, q4_0, bf16, f16, f32)");
            }
        });
        return option;
    }

    /// <summary>The value of a <see cref="LinearWeights"/> option (null when absent).</summary>
    public static DType? ToWeightFormat(string? text) => text is null ? null : ToWeightFormatOrNull(text) ?? throw new ArgumentException($"'{text}' is not a weight format", nameof(text));

    private static DType? ToWeightFormatOrNull(string text) => text.ToLowerInvariant() switch
    {
        "int8" => DType.I8,
        "fp8" or "fp8_e4m3" => DType.F8E4M3,
        "q8_0" => DType.Q8_0,
        "q4_0" => DType.Q4_0,
        _ => ToDTypeOrNull(text),
    };

    public static DType ToDType(string text) => ToDTypeOrNull(text) ?? throw new ArgumentException($"'{text}' is not a dtype", nameof(text));

    /// <summary>Restricts an option to <paramref name="names"/>, with an error that names the option and lists them.</summary>
    public static void OneOf<T>(Option<T> option, string what, IReadOnlyCollection<string> names)
    {
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !names.Contains(r.Tokens[0].Value))
            {
                r.AddError($"{option.Name}: '{r.Tokens[0].Value}' is not {what} ({string.Join(", ", names)})");
            }
        });
    }

    private static DType? ToDTypeOrNull(string text) => text.ToLowerInvariant() switch
    {
        "f32" or "fp32" or "float32" or "float" => DType.F32,
        "f16" or "fp16" or "float16" or "half" => DType.F16,
        "bf16" or "bfloat16" => DType.BF16,
        _ => null,
    };

    /// <summary>The engine's name of a dtype, as <c>--dtype</c> accepts it.</summary>
    public static string Name(DType dtype) => Viper.Pipelines.GenerationRecord.DTypeName(dtype);

    // The value, or null when the option is absent or wrong (the error is then added). Finite in float as well as double.
    private static double? ParseNumber(ArgumentResult r, string name, double min, double max, bool minExclusive, string range)
    {
        if (r.Tokens.Count == 0)
        {
            return null;
        }

        string text = r.Tokens[0].Value;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !float.IsFinite((float)value))
        {
            r.AddError($"{name}: '{text}' is not a finite number");
            return null;
        }

        if (value > max || value < min || (minExclusive && value == min))
        {
            r.AddError($"{name}: {text} is outside {range}");
            return null;
        }

        return value;
    }

    private static int? ParseInt(ArgumentResult r, string name, int min, int max)
    {
        if (r.Tokens.Count == 0)
        {
            return null;
        }

        string text = r.Tokens[0].Value;
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
        {
            r.AddError($"{name}: '{text}' is not a whole number");
            return null;
        }

        if (value < min || value > max)
        {
            r.AddError($"{name}: {text} is outside {min}..{max}");
            return null;
        }

        return value;
    }

    private static string HelpName(float min, float max) => $"{Show(min)}..{Show(max)}";

    private static string Show(float v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
