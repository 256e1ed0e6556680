namespace Viper.Runtime;

/// <summary>
/// An error that says a device ran out of memory (an allocation, or a model refused before loading because it would
/// not fit): what a caller holding other models can answer by releasing one and trying again.
/// </summary>
public interface IMemoryShortage;
