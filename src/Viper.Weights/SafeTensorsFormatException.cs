namespace Viper.Weights;

/// <summary>A safetensors file (or index) that is malformed. The message names the file and the problem.</summary>
public sealed class SafeTensorsFormatException : FormatException
{
    public SafeTensorsFormatException(string source, string problem, Exception? inner = null)
        : base($"{source}: {problem}", inner)
    {
        Source = source;
        Problem = problem;
    }

    /// <summary>The file (or "&lt;memory&gt;") the problem was found in.</summary>
    public new string Source { get; }

    public string Problem { get; }
}
