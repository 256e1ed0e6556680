namespace Viper.Imaging;

/// <summary>A file that is not a readable image; the message names the file and what went wrong.</summary>
public sealed class ImageFormatException(string message, Exception? inner = null) : Exception(message, inner);
